"""Every log group the same way: a retention, kept when its stack is deleted, and encrypted
with a customer-managed key. Application, database and flow logs can hold personal data, so who
may read them is decided by a key policy, and disabling the key makes them unreadable.

Kept on update and delete but not when a stack's first create rolls back: several log groups
have fixed names (RDS and WAF require them), and leftovers would fail the retried deploy."""

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

KEY_ID = "LogEncryptionKey"


def log_encryption_key(scope: Construct) -> kms.IKey:
    """The stack's key for its log groups, created on first use (one per stack, so no stack
    depends on another for its logs)."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(KEY_ID)
    if existing is not None:
        assert isinstance(existing, kms.Key)
        return existing
    key = kms.Key(
        stack,
        KEY_ID,
        description=f"{stack.stack_name}: CloudWatch Logs encryption",
        enable_key_rotation=True,
        # Logs are retained after the stack is gone; their key must outlive them. A failed
        # first create still removes both, so a retried deploy finds no leftovers.
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )
    # CloudWatch Logs may use the key only for this account's log groups in this region.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:{stack.region}:{stack.account}:log-group:*"
                    )
                }
            },
        )
    )
    return key


def retained_log_group(
    scope: Construct,
    construct_id: str,
    *,
    retention: logs.RetentionDays,
    log_group_name: str | None = None,
) -> logs.LogGroup:
    """A log group with a retention, retained on deletion and encrypted with the stack's key."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=retention,
        encryption_key=log_encryption_key(scope),
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )
