"""Rotation of the Redis AUTH token, without downtime (``functions/rotate_cache_token.py``).

Every 30 days Secrets Manager runs the function's four steps on the cache's token secret:
a new token is generated, handed to ElastiCache with the ROTATE strategy (the group then
accepts it beside the one the tasks hold), tested on every node with AUTH and PING over TLS,
and made current. That last step publishes Secrets Manager's ``Secret Label Updated`` event,
on which the Compute stack rolls the API's and the worker's tasks (``secret_rollout.py``);
scheduled jobs read the current token at each run. ElastiCache keeps the two newest tokens,
so the one before stops working at the next rotation.

The replication group's template keeps its versionless dynamic reference to the secret:
CloudFormation resolves it only when the reference itself changes, never because the value
did (CloudFormation User Guide, "Get a secret or secret value from Secrets Manager": use
versionless references with automatic rotation), so a deploy never sets an old token back.
"""

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .acknowledgements import CACHE_TOKEN_ROTATION_WILDCARDS
from .vpc_function import FailureHandling, rotate_with, vpc_function, vpc_function_role

# Long enough to wait out ElastiCache's modification within one step (it polls every 15 s
# and gives up a minute before the end; Secrets Manager then retries the rotation).
FUNCTION_TIMEOUT = Duration.minutes(15)


class CacheTokenRotation(Construct):
    """Rotates ``secret``, the AUTH token of ``replication_group``, every ``interval``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        secret: secretsmanager.Secret,
        replication_group: elasticache.CfnReplicationGroup,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        interval: Duration,
        log_retention: logs.RetentionDays,
        failures: FailureHandling | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        role = vpc_function_role(
            self,
            purpose="rotates the Redis AUTH token of its replication group",
            acknowledgement=CACHE_TOKEN_ROTATION_WILDCARDS,
        )
        group_arn = Stack.of(self).format_arn(
            service="elasticache",
            resource="replicationgroup",
            resource_name=replication_group.ref,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RotateTheTokenOfThisGroup",
                actions=[
                    "elasticache:DescribeReplicationGroups",
                    "elasticache:ModifyReplicationGroup",
                ],
                resources=[group_arn],
            )
        )
        # Secrets Manager invokes a rotation function synchronously (Lambda Developer Guide,
        # "Using Lambda with Secrets Manager"): its dead-letter queue, where the packs ask for
        # one, stays empty; a failed step is retried by Secrets Manager and logged.
        built = vpc_function(
            self,
            role=role,
            description="Rotates the Redis AUTH token (Secrets Manager rotation)",
            handler="rotate_cache_token.on_rotation",
            vpc=vpc,
            # Redis's port, and out to Secrets Manager and ElastiCache over the NAT gateways.
            security_group=security_group,
            log_retention=log_retention,
            timeout=FUNCTION_TIMEOUT,
            failures=failures,
            environment={"REPLICATION_GROUP_ID": replication_group.ref},
        )
        self.function = built.function
        self.log_group = built.log_group
        self.dead_letter_queue: sqs.Queue | None = built.dead_letter_queue
        # The first rotation waits for the schedule, not for this deploy: the Compute stack's
        # roll of the tasks exists by then.
        self.schedule = rotate_with(
            secret, self.function, interval=interval, rotate_immediately_on_update=False
        )
