"""The application's own PostgreSQL user, created before its secret first rotates.

The application never logs in as the master user. Its user's secret is rotated by Secrets
Manager's multi-user rotation, which logs in as the current user before it creates or updates
the alternate one (`<user>_clone`): so the user must already exist, with the password its
secret holds. A custom resource does that once, as the master user, from a Lambda function in
the private subnets (`database_user_function/handler.py`, standard library only); the
rotation schedule waits for it.
"""

import functools
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .acknowledgements import FUNCTION_NETWORK_INTERFACES
from .default_policy import default_policy, depend_on_policy_only
from .log_groups import retained_log_group
from .network import Network
from .policy import acknowledge

HANDLER_SOURCE = Path(__file__).resolve().parent / "database_user_function"
# What Lambda needs to attach a function to the VPC; EC2 grants none of it per resource.
NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


# SQS's longest retention: time to read why an invocation failed before the event is gone.
DEAD_LETTER_RETENTION = Duration.days(14)


@dataclass(frozen=True, kw_only=True)
class FailureHandling:
    """Limits and a dead-letter queue for the function (what the compliance packs ask of it).

    CloudFormation invokes a custom resource's function asynchronously, once per change of the
    one resource; Lambda queues a throttled event and retries it, and sends an event that still
    fails to the dead-letter queue (Lambda Developer Guide, "Asynchronous invocation"). A
    reservation comes out of the account's concurrency, which must keep 100 unreserved
    (Lambda API reference, PutFunctionConcurrency): a new account below 101 cannot deploy it.
    """

    reserved_concurrency: int


@functools.cache
def latest_python_runtime() -> lambda_.Runtime:
    """The newest Python runtime this aws-cdk-lib knows (cdk-nag's L1 asks for it). The
    handler uses the standard library alone, so a new runtime runs it unchanged. Found once
    per process: reading each runtime's name is a round trip to the jsii runtime."""
    python = [r for r in lambda_.Runtime.ALL if r.name.startswith("python3.")]
    return max(python, key=lambda r: int(r.name.removeprefix("python3.")))


class DatabaseUser(Construct):
    """Makes sure ``user_secret``'s user exists in ``database_name`` (custom resource)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: Network,
        instance: rds.DatabaseInstance,
        master_secret: secretsmanager.ISecret,
        user_secret: secretsmanager.ISecret,
        database_name: str,
        log_retention: logs.RetentionDays,
        failures: FailureHandling | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=(
                f"{Stack.of(self).stack_name}: creates the application's database user, "
                "as the master user"
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="NetworkInterfacesInTheVpc",
                actions=list(NETWORK_INTERFACE_ACTIONS),
                resources=["*"],
            )
        )
        acknowledge(default_policy(role), FUNCTION_NETWORK_INTERFACES)
        master_secret.grant_read(role)
        user_secret.grant_read(role)
        log_group = retained_log_group(self, "Logs", retention=log_retention)
        log_group.grant_write(role)
        self.dead_letter_queue: sqs.Queue | None = None
        if failures is not None:
            # It holds CloudFormation's requests: the endpoint, names, secret ARNs and a
            # presigned response URL, never a secret value (Lambda Developer Guide, "Using AWS
            # Lambda with CloudFormation": CloudFormation invokes the function asynchronously).
            self.dead_letter_queue = sqs.Queue(
                self,
                "DeadLetters",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=DEAD_LETTER_RETENTION,
            )
        function = lambda_.Function(
            self,
            "Function",
            description="Creates the application's PostgreSQL user (CloudFormation)",
            runtime=latest_python_runtime(),
            handler="handler.on_event",
            code=lambda_.Code.from_asset(str(HANDLER_SOURCE), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.minutes(2),
            memory_size=256,
            role=role,
            log_group=log_group,
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            # The group the rotation functions use: PostgreSQL's port, and out to Secrets
            # Manager and the RDS certificate authorities over the NAT gateways.
            security_groups=[network.rotation_security_group],
            reserved_concurrent_executions=(
                failures.reserved_concurrency if failures is not None else None
            ),
            dead_letter_queue=self.dead_letter_queue,
        )
        # Lambda checks the network-interface permissions when it creates the function.
        depend_on_policy_only(function, role)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=function.function_arn,
            resource_type="Custom::DatabaseUser",
            properties={
                "Host": instance.db_instance_endpoint_address,
                "Port": instance.db_instance_endpoint_port,
                "DatabaseName": database_name,
                "MasterSecretArn": master_secret.secret_arn,
                "UserSecretArn": user_secret.secret_arn,
            },
        )
