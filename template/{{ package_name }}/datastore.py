"""Phase 4a, data and persistence: RDS PostgreSQL and ElastiCache Redis, and the SQS queues
of the worker and the scheduled jobs when the service runs them (``queues.py``).

Both live in isolated subnets behind their own security groups, encrypted at rest and in
transit, with credentials generated into Secrets Manager (encrypted with the stack's own
key) and never written anywhere else. The application logs in to PostgreSQL as its own user,
never as the master user, whose secret serves only the rotations.
"""

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .acknowledgements import (
    ENHANCED_MONITORING_ROLE,
    REDIS_AUTH_TOKEN_ROTATION,
    SINGLE_AZ_DATABASE,
    SINGLE_NODE_CACHE,
)
from .backup import DatabaseBackup
from .cache_token_rotation import CacheTokenRotation
from .config import EnvironmentConfig, ServiceConfig
from .database_rotation import DatabaseRotation
from .database_user import DatabaseUser
from .log_groups import retained_log_group
from .network import Network
from .phase import PhaseSettings, PhaseStack
from .policy import acknowledge
from .queues import JobDeadLetters, WorkQueue
from .vpc_function import ROTATION_FAILURES, FailureHandling

# A minor version RDS still creates: 17.6 could not be created after 2026-10-01, and RDS
# moved running 17.6 instances to 17.9 after its end of standard support (2026-10-31). Keep
# it at or above what the instances run (auto minor upgrades move them; CloudFormation cannot
# downgrade): `aws rds describe-db-instances --query 'DBInstances[].EngineVersion'`.
POSTGRES_VERSION = rds.PostgresEngineVersion.VER_17_9
REDIS_ENGINE_VERSION = "7.1"
DATABASE_LOG_TYPES = ("postgresql", "upgrade")
# The application's PostgreSQL user; multi-user rotation alternates it with "<user>_clone".
APPLICATION_USER = "app"
ROTATION_INTERVAL = Duration.days(30)
# The Redis snapshot retention the compliance packs ask for, at least.
COMPLIANT_CACHE_SNAPSHOT_DAYS = 15


def secrets_key(scope: Construct) -> kms.Key:
    """The stack's key for its secrets and the database's Performance Insights data."""
    stack = Stack.of(scope)
    return kms.Key(
        scope,
        "SecretsKey",
        description=f"{stack.stack_name}: secrets and database performance data",
        enable_key_rotation=True,
        # A secret deleted with its stack can be restored for a while: keep its key.
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )


class Database(Construct):
    """PostgreSQL in the isolated subnets, with enhanced monitoring and Performance Insights.
    The master credentials and the application user's are generated, encrypted with
    ``key`` and rotated every 30 days: the master's by itself, the application's by the
    multi-user rotation, which uses the master's."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: Network,
        environment: EnvironmentConfig,
        instance_identifier: str,
        database_name: str,
        port: int,
        key: kms.IKey,
        user_failures: FailureHandling | None = None,
        rotation_failures: FailureHandling | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        sizing = environment.sizing
        self.secrets_key = key
        # RDS writes its logs to these groups; creating them first gives them a retention.
        # That needs the group names up front, hence the fixed instance identifier.
        log_groups = [
            retained_log_group(
                self,
                f"{log_type.capitalize()}Logs",
                log_group_name=f"/aws/rds/instance/{instance_identifier}/{log_type}",
                retention=environment.log_retention,
            )
            for log_type in DATABASE_LOG_TYPES
        ]
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=instance_identifier,
            engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
            instance_type=ec2.InstanceType(sizing.database_instance_type),
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[network.database_security_group],
            port=port,
            database_name=database_name,
            credentials=rds.Credentials.from_generated_secret("service_admin", encryption_key=key),
            multi_az=sizing.database_multi_az,
            allocated_storage=sizing.database_allocated_storage_gib,
            max_allocated_storage=sizing.database_max_allocated_storage_gib,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            iam_authentication=True,
            backup_retention=Duration.days(sizing.database_backup_retention_days),
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=list(DATABASE_LOG_TYPES),
            # OS metrics every minute (RDS writes them to the account's RDSOSMetrics group).
            monitoring_interval=Duration.seconds(60),
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT,
            # Every environment: deleting a database takes two deliberate steps.
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        for log_group in log_groups:
            self.instance.node.add_dependency(log_group)
        monitoring_role = self.instance.node.find_child("MonitoringRole")
        acknowledge(monitoring_role, ENHANCED_MONITORING_ROLE)

        assert self.instance.secret is not None  # generated above
        # The master user: only the rotations (and the user's creation) log in with it.
        self.secret = self.instance.secret
        # The application's user, with the instance's host, port and engine attached.
        self.app_secret = rds.DatabaseSecret(
            self,
            "AppSecret",
            username=APPLICATION_USER,
            master_secret=self.secret,
            encryption_key=key,
        ).attach(self.instance)
        user = DatabaseUser(
            self,
            "AppUser",
            network=network,
            instance=self.instance,
            master_secret=self.secret,
            user_secret=self.app_secret,
            database_name=database_name,
            log_retention=environment.log_retention,
            failures=user_failures,
        )
        # The rotation's security-group rule uses the network stack's literal port (see
        # Network); the schedules keep the ids Secrets Manager's rotation applications had.
        rotations = {
            construct_id: DatabaseRotation(
                self,
                construct_id,
                secret=secret,
                master_secret=master_secret,
                database_name=database_name,
                vpc=network.vpc,
                security_group=network.rotation_security_group,
                interval=ROTATION_INTERVAL,
                log_retention=environment.log_retention,
                failures=rotation_failures,
            )
            for construct_id, secret, master_secret in (
                ("Rotation", self.secret, None),
                ("AppRotation", self.app_secret, self.secret),
            )
        }
        # Its function also restores the application's passwords (README, "Database
        # credentials"): the repair that would otherwise need psql inside the VPC.
        self.app_rotation_function = rotations["AppRotation"].function
        # A first rotation starts when its schedule is created. The user must exist before the
        # application's, and the master password must not change while the custom resource
        # logs in with it to create the user.
        for secret in (self.secret, self.app_secret):
            secret.node.find_child("RotationSchedule").node.add_dependency(user.resource)


class Cache(Construct):
    """A Redis replication group in the isolated subnets, with AUTH and TLS required; its
    AUTH token rotated every 30 days with ``rotate_token`` (``cache_token_rotation.py``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: Network,
        environment: EnvironmentConfig,
        port: int,
        key: kms.IKey,
        minimum_snapshot_retention_days: int = 0,
        rotate_token: bool = False,
        rotation_failures: FailureHandling | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        sizing = environment.sizing
        self.secrets_key = key
        self.auth_token = secretsmanager.Secret(
            self,
            "AuthToken",
            description="Redis AUTH token",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64,
                # Redis AUTH tokens refuse most punctuation.
                exclude_punctuation=True,
            ),
        )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "SubnetGroup",
            description="Isolated subnets of the cache",
            subnet_ids=network.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
            ).subnet_ids,
        )
        slow_log = retained_log_group(
            self,
            "SlowLog",
            retention=environment.log_retention,
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description="Cache, sessions and job queues of the service",
            engine="redis",
            engine_version=REDIS_ENGINE_VERSION,
            cache_node_type=sizing.cache_node_type,
            num_cache_clusters=1 + sizing.cache_replicas,
            automatic_failover_enabled=sizing.cache_failover,
            multi_az_enabled=sizing.cache_failover,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[network.cache_security_group.security_group_id],
            port=port,
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            # A dynamic reference: CloudFormation resolves it; the template never holds it.
            auth_token=self.auth_token.secret_value.unsafe_unwrap(),
            snapshot_retention_limit=max(
                sizing.database_backup_retention_days, minimum_snapshot_retention_days
            ),
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                    destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=slow_log.log_group_name
                        )
                    ),
                )
            ],
        )
        self.replication_group.apply_removal_policy(RemovalPolicy.SNAPSHOT)
        if not sizing.cache_failover:
            acknowledge(self.replication_group, SINGLE_NODE_CACHE)
        self._node_count = 1 + sizing.cache_replicas
        self.token_rotation: CacheTokenRotation | None = None
        if rotate_token:
            assert network.cache_rotation_security_group is not None  # made for the rotation
            self.token_rotation = CacheTokenRotation(
                self,
                "TokenRotation",
                secret=self.auth_token,
                replication_group=self.replication_group,
                vpc=network.vpc,
                security_group=network.cache_rotation_security_group,
                interval=ROTATION_INTERVAL,
                log_retention=environment.log_retention,
                failures=rotation_failures,
            )
        else:
            acknowledge(self.auth_token, REDIS_AUTH_TOKEN_ROTATION)

    @property
    def node_ids(self) -> list[str]:
        """Every node's cache cluster id, as ElastiCache names a replication group's nodes
        (`<group>-001`, `-002`, ...): where its per-node metrics are."""
        return [
            f"{self.replication_group.ref}-{number:03d}"
            for number in range(1, 1 + self._node_count)
        ]


class DatastoreStack(PhaseStack):
    """Phase 4a: the stateful tier. Termination protection is on; data is snapshotted."""

    def __init__(
        self,
        scope: Construct,
        *,
        phase: PhaseSettings,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        network: Network,
    ) -> None:
        super().__init__(scope, phase=phase)
        self.secrets_key = secrets_key(self)
        hardened = service.has_compliance_packs
        self.database = Database(
            self,
            "Database",
            network=network,
            environment=environment,
            instance_identifier=service.resource_name(environment),
            database_name=service.database_name,
            port=service.database_port,
            key=self.secrets_key,
            # The packs ask the template's own function for a concurrency limit and a DLQ.
            user_failures=FailureHandling(reserved_concurrency=1) if hardened else None,
            rotation_failures=ROTATION_FAILURES if hardened else None,
        )
        self.cache = Cache(
            self,
            "Cache",
            network=network,
            environment=environment,
            port=service.cache_port,
            key=self.secrets_key,
            # The packs ask for 15 days of Redis snapshots (cdk-nag's
            # ElastiCacheRedisClusterAutomaticBackup); small and medium keep fewer.
            minimum_snapshot_retention_days=COMPLIANT_CACHE_SNAPSHOT_DAYS if hardened else 0,
            rotate_token=service.cache_token_rotation,
            # A dead-letter queue as the database-user function's, room for ten steps at once.
            rotation_failures=ROTATION_FAILURES if hardened else None,
        )
        self.backup: DatabaseBackup | None = None
        if environment.backup_plan:
            self.backup = DatabaseBackup(
                self,
                "Backup",
                instance=self.database.instance,
                key=self.secrets_key,
                plan_name=service.resource_name(environment, "database"),
                retention_days=environment.backup_retention_days,
                lock_min_retention_days=(
                    environment.backup_lock_days if service.backup_vault_lock else None
                ),
            )
            CfnOutput(self, "BackupVaultName", value=self.backup.vault.backup_vault_name)
        if not environment.sizing.database_multi_az:
            acknowledge(self.database.instance, SINGLE_AZ_DATABASE)
        # The worker's queue and the jobs' dead letters hold messages: state, kept here.
        self.work_queue = (
            WorkQueue(
                self,
                "WorkQueue",
                queue_name=service.resource_name(environment, "work"),
                key=self.secrets_key,
                max_receive_count=environment.sizing.queue_max_receive_count,
            )
            if service.runs("worker")
            else None
        )
        self.job_dead_letters = (
            JobDeadLetters(self, "JobDeadLetters", key=self.secrets_key)
            if service.runs("scheduled_job")
            else None
        )
        # What the runbook's commands need (README: "Runbook").
        CfnOutput(self, "DatabaseSecretArn", value=self.database.secret.secret_arn)
        CfnOutput(self, "DatabaseAppSecretArn", value=self.database.app_secret.secret_arn)
        CfnOutput(
            self,
            "DatabaseAppRotationFunctionName",
            value=self.database.app_rotation_function.function_name,
        )
        CfnOutput(self, "CacheAuthTokenSecretArn", value=self.cache.auth_token.secret_arn)
        CfnOutput(self, "CacheReplicationGroupId", value=self.cache.replication_group.ref)
        if self.cache.token_rotation is not None:
            CfnOutput(
                self,
                "CacheTokenRotationLogGroupName",
                value=self.cache.token_rotation.log_group.log_group_name,
            )
        if self.work_queue is not None:
            CfnOutput(self, "WorkQueueUrl", value=self.work_queue.queue.queue_url)
            dead_letters = self.work_queue.dead_letters
            CfnOutput(self, "WorkDeadLetterQueueUrl", value=dead_letters.queue_url)
            CfnOutput(self, "WorkDeadLetterQueueArn", value=dead_letters.queue_arn)
        if self.job_dead_letters is not None:
            CfnOutput(self, "JobDeadLetterQueueUrl", value=self.job_dead_letters.queue.queue_url)
