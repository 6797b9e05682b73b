"""Phase 4b, the execution platform: the service's workloads on ECS Fargate, composed here.

This stack alone reads the configuration; the constructs it composes (``workloads/``) take
resources and plain values:
- ``cluster.py``: the cluster, Fargate Spot outside production, ECS Exec sessions;
- ``task.py``: one workload's task (roles, task definition, logs, the migrations as an init
  container, the workload's container), shared by every workload;
- ``load_balancer.py``: the public entry point; ``web_service.py``: the API behind it.

Tasks run in private subnets without public IPs; secrets reach them only at run time, from
Secrets Manager; every log goes to CloudWatch Logs with a retention. Every task first runs
the schema migrations of its own image, so a release's schema is in place before its code
runs, and a migration that fails stops the release.
"""

from pathlib import Path

from aws_cdk import CfnOutput
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .alarms import (
    AlarmFactory,
    AlarmTopic,
    cache_alarms,
    database_alarms,
    dependency_check_alarms,
    deployment_alarms,
    load_balancer_alarms,
    migration_alarm,
    secret_rollout_alarm,
    service_alarms,
)
from .config import CpuArchitecture, EnvironmentConfig, ServiceConfig
from .datastore import APPLICATION_USER, Cache, Database
from .firewall import WebFirewall
from .network import Network
from .phase import PhaseSettings, PhaseStack
from .secret_rollout import RollTasksOnSecretChange
from .workloads.cluster import ComputeCluster
from .workloads.load_balancer import LoadBalancer
from .workloads.task import TaskRuntime
from .workloads.web_service import HttpEndpoints, LoadBalancedService, TaskCount

# The sample service's Dockerfile: `cdk deploy` builds it and pushes it to the bootstrap
# stack's ECR repository before the service is updated, so the first deploy has its image.
SERVICE_SOURCE = Path(__file__).resolve().parent.parent / "service"
# The processor of the task definition and the platform its image is built for, per answer.
PLATFORMS: dict[CpuArchitecture, tuple[ecs.CpuArchitecture, ecr_assets.Platform]] = {
    "arm64": (ecs.CpuArchitecture.ARM64, ecr_assets.Platform.LINUX_ARM64),
    "x86_64": (ecs.CpuArchitecture.X86_64, ecr_assets.Platform.LINUX_AMD64),
}


class ComputeStack(PhaseStack):
    """Phase 4b: the public entry point and the service behind it, its alarms, and the roll
    of its tasks when a secret they read changes."""

    def __init__(
        self,
        scope: Construct,
        *,
        phase: PhaseSettings,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        network: Network,
        database: Database,
        cache: Cache,
    ) -> None:
        super().__init__(scope, phase=phase)
        self.load_balancer = LoadBalancer(
            self,
            "LoadBalancer",
            vpc=network.vpc,
            security_group=network.load_balancer_security_group,
            load_balancer_name=service.resource_name(environment),
            domain=environment.domain,
            # Every environment's, where compliance packs are chosen (ELBDeletionProtectionEnabled).
            deletion_protection=environment.is_production or service.has_compliance_packs,
        )
        WebFirewall(
            self,
            "Firewall",
            load_balancer=self.load_balancer.alb,
            name=service.resource_name(environment),
            log_retention=environment.log_retention,
        )
        # "Service": the id the cluster and the API's resources had before the compute layer
        # was split; the API keeps them as the cluster's "Default" child (see web_service.py).
        self.cluster = ComputeCluster(
            self,
            "Service",
            vpc=network.vpc,
            fargate_spot=environment.fargate_spot,
            exec_log_retention=environment.log_retention if service.enable_ecs_exec else None,
        )
        sizing = environment.sizing
        self.api = LoadBalancedService(
            self.cluster,
            "Default",
            cluster=self.cluster,
            runtime=self._runtime(service, environment, database, cache),
            cpu=sizing.task_cpu,
            memory_mib=sizing.task_memory_mib,
            endpoints=HttpEndpoints(
                port=service.container_port,
                health_check_path=service.health_check_path,
                readiness_path=service.readiness_path,
            ),
            security_group=network.service_security_group,
            listener=self.load_balancer.listener,
            deployment=sizing.deployment,
            task_count=TaskCount(minimum=sizing.task_min_count, maximum=sizing.task_max_count),
        )
        rollout = RollTasksOnSecretChange(
            self,
            "RollOnSecretChange",
            service=self.api.service,
            # What the tasks read: the application's database user, not the master user.
            secrets=[database.app_secret, cache.auth_token],
            log_retention=environment.log_retention,
        )
        self._add_alarms(service, environment, database, cache, rollout)
        # What the runbook's commands need (README: "Runbook").
        CfnOutput(self, "ClusterName", value=self.cluster.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.api.service.service_name)
        CfnOutput(self, "LogGroupName", value=self.api.task.log_group.log_group_name)
        CfnOutput(self, "LoadBalancerDnsName", value=self.load_balancer.alb.load_balancer_dns_name)
        sessions = self.cluster.exec_sessions
        if sessions is not None:
            CfnOutput(self, "ExecSessionKeyArn", value=sessions.key.key_arn)
            CfnOutput(self, "ExecLogGroupName", value=sessions.log_group.log_group_name)

    def _runtime(
        self,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        database: Database,
        cache: Cache,
    ) -> TaskRuntime:
        """What every workload's task shares: one image, the stores' settings and secrets."""
        cpu_architecture, image_platform = PLATFORMS[service.cpu_architecture]
        # Secrets of the datastore stack, imported without their key (task.py says why).
        app_secret = secretsmanager.Secret.from_secret_complete_arn(
            self, "AppSecret", database.app_secret.secret_arn
        )
        auth_token = secretsmanager.Secret.from_secret_complete_arn(
            self, "AuthToken", cache.auth_token.secret_arn
        )
        database_environment = {
            "SERVICE_NAME": service.name,
            "DB_HOST": database.instance.db_instance_endpoint_address,
            "DB_PORT": database.instance.db_instance_endpoint_port,
            "DB_NAME": service.database_name,
        }
        # The application's own database user: the master user's secret is not the task's.
        database_secrets = {
            "DB_USERNAME": ecs.Secret.from_secrets_manager(app_secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(app_secret, "password"),
        }
        return TaskRuntime(
            service_name=service.name,
            # One image for every container: the migrations that run are the ones of the code
            # that starts (the same digest, built once and promoted).
            image=ecs.ContainerImage.from_asset(str(SERVICE_SOURCE), platform=image_platform),
            cpu_architecture=cpu_architecture,
            environment={
                **database_environment,
                "REDIS_HOST": cache.replication_group.attr_primary_end_point_address,
                "REDIS_PORT": cache.replication_group.attr_primary_end_point_port,
                "REDIS_TLS": "true",
            },
            secrets={
                **database_secrets,
                "REDIS_AUTH_TOKEN": ecs.Secret.from_secrets_manager(auth_token),
            },
            migration_environment={
                **database_environment,
                # Multi-user rotation logs in as `app` or `app_clone`; every table belongs to
                # `app` either way (`SET ROLE`), so the next rotation's user can alter it.
                "DB_SCHEMA_OWNER": APPLICATION_USER,
            },
            migration_secrets=database_secrets,
            secrets_key=database.secrets_key,
            log_retention=environment.log_retention,
        )

    def _add_alarms(
        self,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        database: Database,
        cache: Cache,
        rollout: RollTasksOnSecretChange,
    ) -> None:
        topic = AlarmTopic(self, "Alarms", email=service.alarm_email)
        alarms = AlarmFactory(topic)
        thresholds = environment.sizing.alarms
        deployment = deployment_alarms(
            alarms,
            name_prefix=service.resource_name(environment, "deployment"),
            target_groups=self.api.target_groups,
            error_percent=thresholds.service_5xx_percent,
        )
        # ECS watches these during every release and rolls it back when one fires.
        self.api.service.enable_deployment_alarms(
            list(deployment.names), behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
        )
        for alarm in deployment.alarms:
            self.api.service.node.add_dependency(alarm)
        load_balancer_alarms(
            alarms,
            self.load_balancer.alb,
            target_groups=self.api.target_groups,
            latency_p99_seconds=thresholds.service_latency_p99_seconds,
        )
        service_alarms(alarms, self.api.service)
        namespace = service.metric_namespace(environment)
        dependency_check_alarms(alarms, self.api.task.log_group, namespace=namespace)
        migration_alarm(alarms, self.api.task.log_group, namespace=namespace)
        database_alarms(alarms, database.instance, thresholds)
        cache_alarms(alarms, cache.node_ids, thresholds)
        secret_rollout_alarm(alarms, rollout.state_machine)
        CfnOutput(self, "AlarmTopicArn", value=topic.topic.topic_arn)
