"""The template's own Lambda functions in the VPC: the one that creates the application's
database user (``database_user.py``), the ones that rotate the database passwords
(``database_rotation.py``) and the one that rotates the Redis AUTH token
(``cache_token_rotation.py``). Their code is one folder, ``functions/``, standard library
only (and the runtime's boto3); each function runs its own module of it.

Each gets a role of its own that Lambda alone assumes, with the network-interface actions a
function in a VPC needs and, from its caller, grants on its own resources only; a log group
with the environment's retention; the newest Python runtime; and, where the compliance packs
ask for them, a reserved concurrency and a dead-letter queue. The construct ids are the ones
the database-user function had before this module existed: its resources keep their
logical ids.
"""

import functools
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .acknowledgements import Acknowledgement
from .default_policy import default_policy, depend_on_policy_only
from .log_groups import retained_log_group
from .policy import acknowledge

# What Lambda needs to attach a function to the VPC; EC2 grants none of it per resource.
NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
FUNCTIONS_SOURCE = Path(__file__).resolve().parent / "functions"
ROTATION_SERVICE = "secretsmanager.amazonaws.com"
# SQS's longest retention: time to read why an invocation failed before the event is gone.
DEAD_LETTER_RETENTION = Duration.days(14)


@dataclass(frozen=True, kw_only=True)
class FailureHandling:
    """Limits and a dead-letter queue for a function (what the compliance packs ask of it).

    Lambda queues an asynchronous event that is throttled and retries it, and sends an event
    that still fails to the dead-letter queue (Lambda Developer Guide, "Asynchronous
    invocation"); a synchronous caller gets the error itself and retries on its own. A
    reservation comes out of the account's concurrency, which must keep 100 unreserved
    (Lambda API reference, PutFunctionConcurrency): a new account below 101 cannot deploy it.
    """

    reserved_concurrency: int


# A rotation function's reservation, where the packs ask for one: Secrets Manager warns that
# below 10 its steps can be throttled (Secrets Manager User Guide, "Lambda rotation functions").
ROTATION_FAILURES = FailureHandling(reserved_concurrency=10)


@functools.cache
def latest_python_runtime() -> lambda_.Runtime:
    """The newest Python runtime this aws-cdk-lib knows (cdk-nag's L1 asks for it). The
    handlers use the standard library (and the runtime's boto3) alone, so a new runtime runs
    them unchanged. Found once per process: reading each runtime's name is a round trip to
    the jsii runtime."""
    python = [r for r in lambda_.Runtime.ALL if r.name.startswith("python3.")]
    return max(python, key=lambda r: int(r.name.removeprefix("python3.")))


def vpc_function_role(
    scope: Construct, *, purpose: str, acknowledgement: Acknowledgement
) -> iam.Role:
    """``scope``'s "Role": Lambda's, with the network interfaces of a function in the VPC
    (the finding their ``*`` raises is ``acknowledgement``). The caller adds its grants."""
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{Stack.of(scope).stack_name}: {purpose}",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="NetworkInterfacesInTheVpc",
            actions=list(NETWORK_INTERFACE_ACTIONS),
            resources=["*"],
        )
    )
    acknowledge(default_policy(role), acknowledgement)
    return role


@dataclass(frozen=True, kw_only=True)
class VpcFunction:
    function: lambda_.Function
    log_group: logs.LogGroup
    dead_letter_queue: sqs.Queue | None


def vpc_function(
    scope: Construct,
    *,
    role: iam.Role,
    description: str,
    handler: str,
    vpc: ec2.IVpc,
    security_group: ec2.ISecurityGroup,
    log_retention: logs.RetentionDays,
    timeout: Duration,
    failures: FailureHandling | None,
    environment: dict[str, str] | None = None,
) -> VpcFunction:
    """``scope``'s "Logs", "DeadLetters" (with ``failures``) and "Function": ``handler`` of
    ``functions/`` run in the private subnets (out through the NAT gateways) as ``role``,
    which may write its logs."""
    log_group = retained_log_group(scope, "Logs", retention=log_retention)
    log_group.grant_write(role)
    dead_letter_queue: sqs.Queue | None = None
    if failures is not None:
        # It holds the events of invocations that failed: names, ARNs and request ids,
        # never a secret value.
        dead_letter_queue = sqs.Queue(
            scope,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
    function = lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=latest_python_runtime(),
        handler=handler,
        code=lambda_.Code.from_asset(str(FUNCTIONS_SOURCE), exclude=["__pycache__", "*.pyc"]),
        timeout=timeout,
        memory_size=256,
        role=role,
        log_group=log_group,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        security_groups=[security_group],
        environment=environment,
        reserved_concurrent_executions=(
            failures.reserved_concurrency if failures is not None else None
        ),
        dead_letter_queue=dead_letter_queue,
    )
    # Lambda checks the network-interface permissions when it creates the function.
    depend_on_policy_only(function, role)
    return VpcFunction(function=function, log_group=log_group, dead_letter_queue=dead_letter_queue)


def rotate_with(
    secret: secretsmanager.ISecret,
    function: lambda_.Function,
    *,
    interval: Duration,
    rotate_immediately_on_update: bool | None = None,
) -> secretsmanager.RotationSchedule:
    """Secrets Manager runs ``function`` on ``secret`` every ``interval``: the secret's
    "RotationSchedule". CDK grants the function the secret's rotation actions (DescribeSecret,
    GetSecretValue, PutSecretValue, UpdateSecretVersionStage on this secret alone,
    GetRandomPassword), its key through Secrets Manager, and Secrets Manager the right to
    invoke it; ``rotate_immediately_on_update`` None keeps CloudFormation's default (rotate
    when the schedule is created or changed)."""
    schedule = secret.add_rotation_schedule(
        "RotationSchedule",
        rotation_lambda=function,
        automatically_after=interval,
        rotate_immediately_on_update=rotate_immediately_on_update,
    )
    # CDK's grant names Secrets Manager alone; only Secrets Manager acting for this account
    # may invoke the function (the Secrets Manager User Guide, "Permissions for rotation",
    # against the confused deputy). Not aws:SourceArn: the role can read and stage this one
    # secret anyway, and AWS advises the account alone.
    for child in function.node.children:
        if isinstance(child, lambda_.CfnPermission) and child.principal == ROTATION_SERVICE:
            child.source_account = Stack.of(function).account
    return schedule
