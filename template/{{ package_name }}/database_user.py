"""The application's own PostgreSQL user, created before its secret first rotates.

The application never logs in as the master user. Its user's secret is rotated by Secrets
Manager's multi-user rotation, which logs in as the current user before it creates or updates
the alternate one (`<user>_clone`): so the user must already exist, with the password its
secret holds. A custom resource does that once, as the master user, from a Lambda function in
the private subnets (`functions/create_database_user.py`, standard library only); the
rotation schedule waits for it.
"""

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .acknowledgements import FUNCTION_NETWORK_INTERFACES
from .network import Network
from .vpc_function import FailureHandling, vpc_function, vpc_function_role


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
        role = vpc_function_role(
            self,
            purpose="creates the application's database user, as the master user",
            acknowledgement=FUNCTION_NETWORK_INTERFACES,
        )
        master_secret.grant_read(role)
        user_secret.grant_read(role)
        # CloudFormation invokes a custom resource's function asynchronously (Lambda Developer
        # Guide, "Using AWS Lambda with CloudFormation"): a failed request can reach the
        # dead-letter queue; it holds the endpoint, names, secret ARNs and a presigned
        # response URL, never a secret value.
        built = vpc_function(
            self,
            role=role,
            description="Creates the application's PostgreSQL user (CloudFormation)",
            handler="create_database_user.on_event",
            vpc=network.vpc,
            # The group the rotation functions use: PostgreSQL's port, and out to Secrets
            # Manager and the RDS certificate authorities over the NAT gateways.
            security_group=network.rotation_security_group,
            log_retention=log_retention,
            timeout=Duration.minutes(2),
            failures=failures,
        )
        self.dead_letter_queue: sqs.Queue | None = built.dead_letter_queue
        function = built.function
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
