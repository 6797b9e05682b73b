"""Rotation of a database password by the template's own function
(``functions/rotate_database_password.py``), every 30 days.

The master user's secret rotates itself (single-user); the application's alternates
``<user>`` and ``<user>_clone``, set by the master user (multi-user), so the tasks are never
refused while they are rolled onto the new version. Both keep the secrets' format and the
``RotationSchedule`` of Secrets Manager's own PostgreSQL rotation functions, which a release
before this one deployed from the Serverless Application Repository: a deploy switches the
schedule to this function in place and the rotation goes on from where it was.

Written here rather than taken from that repository because its nested stacks create IAM
roles this repository cannot see or constrain (a permissions boundary, the packs' checks);
these are in the stack's template, like every other role.
"""

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .acknowledgements import FUNCTION_NETWORK_INTERFACES
from .functions.rotate_database_password import Strategy
from .vpc_function import FailureHandling, rotate_with, vpc_function, vpc_function_role

# Four steps, each a few TLS logins to PostgreSQL and calls to Secrets Manager.
FUNCTION_TIMEOUT = Duration.minutes(2)


class DatabaseRotation(Construct):
    """Rotates ``secret`` every ``interval``: by itself (``master_secret`` None), or through
    the master user of ``master_secret`` (multi-user)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        secret: secretsmanager.ISecret,
        master_secret: secretsmanager.ISecret | None,
        database_name: str,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        interval: Duration,
        log_retention: logs.RetentionDays,
        failures: FailureHandling | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        strategy: Strategy = "single-user" if master_secret is None else "multi-user"
        role = vpc_function_role(
            self,
            purpose=f"rotates a database password ({strategy})",
            acknowledgement=FUNCTION_NETWORK_INTERFACES,
        )
        if master_secret is not None:
            master_secret.grant_read(role)
        # Secrets Manager invokes a rotation function synchronously (Lambda Developer Guide,
        # "Using Lambda with Secrets Manager"): its dead-letter queue, where the packs ask for
        # one, stays empty; a failed step is retried by Secrets Manager and logged.
        built = vpc_function(
            self,
            role=role,
            description=f"Rotates a PostgreSQL password, {strategy} (Secrets Manager rotation)",
            handler="rotate_database_password.on_rotation",
            vpc=vpc,
            # PostgreSQL's port, and out to Secrets Manager and the RDS certificate
            # authorities over the NAT gateways.
            security_group=security_group,
            log_retention=log_retention,
            timeout=FUNCTION_TIMEOUT,
            failures=failures,
            # The application's database, for a secret without `dbname` (the functions act in
            # it: the ownership transfer must not land in another).
            environment={"ROTATION_STRATEGY": strategy, "DATABASE_NAME": database_name},
        )
        self.function = built.function
        self.log_group = built.log_group
        self.dead_letter_queue: sqs.Queue | None = built.dead_letter_queue
        # The id is the one Secrets Manager's rotation applications had: the same schedule,
        # updated in place.
        self.schedule = rotate_with(secret, self.function, interval=interval)
