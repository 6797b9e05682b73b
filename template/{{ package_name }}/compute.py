"""Phase 4b, the execution platform: the service's workloads on ECS Fargate, composed here.

This stack alone reads the configuration; the constructs it composes (``workloads/``) take
resources and plain values:
- ``cluster.py``: the cluster, Fargate Spot outside production, ECS Exec sessions;
- ``task.py``: one workload's task (roles, task definition, logs, the migrations as an init
  container, the workload's container), shared by every workload;
- ``load_balancer.py``: the public entry point; ``web_service.py``: the API behind it;
- ``worker.py``: the queue worker; ``scheduled_job.py``: a job EventBridge Scheduler starts.

Which of the three workloads exist is the configuration's ``workloads``; a service without
the API has no load balancer, certificate or WAF. Every workload runs the same image in the
same cluster, with the same stores and secrets, in the private subnets.

Tasks run in private subnets without public IPs; secrets reach them only at run time, from
Secrets Manager; every log goes to CloudWatch Logs with a retention. Every task first runs
the schema migrations of its own image, so a release's schema is in place before its code
runs, and a migration that fails stops the release.
"""

from pathlib import Path

from aws_cdk import CfnOutput, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .alarms import (
    AlarmFactory,
    AlarmTopic,
    cache_alarms,
    database_alarms,
    dependency_check_alarms,
    deployment_alarms,
    job_dead_letter_alarm,
    job_failure_notification,
    load_balancer_alarms,
    migration_alarm,
    queue_alarms,
    secret_rollout_alarm,
    service_alarms,
    worker_deployment_alarm,
)
from .config import CpuArchitecture, EnvironmentConfig, ServiceConfig
from .datastore import APPLICATION_USER, Cache, Database
from .firewall import WebFirewall
from .network import Network
from .phase import PhaseSettings, PhaseStack
from .queues import JobDeadLetters, WorkQueue
from .secret_rollout import RollTasksOnSecretChange
from .workloads.cluster import ComputeCluster
from .workloads.load_balancer import LoadBalancer
from .workloads.scheduled_job import ScheduledJob
from .workloads.task import TaskRuntime
from .workloads.web_service import HttpEndpoints, LoadBalancedService, TaskCount
from .workloads.worker import QueueWorker

# The sample service's Dockerfile: `cdk deploy` builds it and pushes it to the bootstrap
# stack's ECR repository before the service is updated, so the first deploy has its image.
SERVICE_SOURCE = Path(__file__).resolve().parent.parent / "service"
# Where that Dockerfile puts the RDS certificate authorities (all regions' bundle).
RDS_CA_BUNDLE_IN_IMAGE = "/etc/ssl/certs/rds-global-bundle.pem"
# The processor of the task definition and the platform its image is built for, per answer.
PLATFORMS: dict[CpuArchitecture, tuple[ecs.CpuArchitecture, ecr_assets.Platform]] = {
    "arm64": (ecs.CpuArchitecture.ARM64, ecr_assets.Platform.LINUX_ARM64),
    "x86_64": (ecs.CpuArchitecture.X86_64, ecr_assets.Platform.LINUX_AMD64),
}


class ComputeStack(PhaseStack):
    """Phase 4b: the service's workloads (the API behind its public entry point, the queue
    worker, the scheduled jobs), their alarms, and the roll of the services' tasks when a
    secret they read changes."""

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
        work_queue: WorkQueue | None = None,
        job_dead_letters: JobDeadLetters | None = None,
    ) -> None:
        super().__init__(scope, phase=phase)
        self.load_balancer: LoadBalancer | None = None
        if service.runs("api"):
            self.load_balancer = self._build_public_entry(service, environment, network)
        # "Service": the id the cluster and the API's resources had before the compute layer
        # was split; the API keeps them as the cluster's "Default" child (see web_service.py).
        self.cluster = ComputeCluster(
            self,
            "Service",
            vpc=network.vpc,
            fargate_spot=environment.fargate_spot,
            exec_log_retention=environment.log_retention if service.enable_ecs_exec else None,
        )
        runtime = self._runtime(service, environment, database, cache)
        self.api = (
            None
            if self.load_balancer is None
            else self._build_api(service, environment, network, runtime, work_queue)
        )
        self.worker = (
            None
            if work_queue is None
            else self._build_worker(environment, network, runtime, work_queue)
        )
        self.jobs = (
            {}
            if job_dead_letters is None
            else self._build_jobs(service, environment, network, runtime, job_dead_letters)
        )
        services = [workload.service for workload in (self.api, self.worker) if workload]
        rollout = (
            RollTasksOnSecretChange(
                self,
                "RollOnSecretChange",
                services=services,
                # What the tasks read: the application's database user, not the master user.
                secrets=[database.app_secret, cache.auth_token],
                log_retention=environment.log_retention,
            )
            if services
            else None
        )
        self._add_alarms(
            service, environment, database, cache, rollout, work_queue, job_dead_letters
        )
        self._add_outputs(network)

    def _build_public_entry(
        self, service: ServiceConfig, environment: EnvironmentConfig, network: Network
    ) -> LoadBalancer:
        """The API's load balancer, behind WAF."""
        assert network.load_balancer_security_group is not None  # a service with an API
        load_balancer = LoadBalancer(
            self,
            "LoadBalancer",
            vpc=network.vpc,
            security_group=network.load_balancer_security_group,
            load_balancer_name=service.resource_name(environment),
            domain=environment.domain,
            port_80_listener_id=environment.port_80_listener_id,
            # Every environment's, where compliance packs are chosen (ELBDeletionProtectionEnabled).
            deletion_protection=environment.is_production or service.has_compliance_packs,
        )
        WebFirewall(
            self,
            "Firewall",
            load_balancer=load_balancer.alb,
            name=service.resource_name(environment),
            log_retention=environment.log_retention,
        )
        return load_balancer

    def _build_api(
        self,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        network: Network,
        runtime: TaskRuntime,
        work_queue: WorkQueue | None,
    ) -> LoadBalancedService:
        """The API behind the listener; with a worker, it may send it work (and only send)."""
        assert self.load_balancer is not None
        sizing = environment.sizing
        api = LoadBalancedService(
            self.cluster,
            "Default",
            cluster=self.cluster,
            runtime=runtime,
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
            environment={} if work_queue is None else {"QUEUE_URL": work_queue.queue.queue_url},
        )
        if work_queue is not None:
            work_queue.allow_sending(api.task.task_role)
        return api

    def _build_worker(
        self,
        environment: EnvironmentConfig,
        network: Network,
        runtime: TaskRuntime,
        work_queue: WorkQueue,
    ) -> QueueWorker:
        sizing = environment.sizing
        return QueueWorker(
            self,
            "Worker",
            cluster=self.cluster,
            runtime=runtime,
            cpu=sizing.task_cpu,
            memory_mib=sizing.task_memory_mib,
            work_queue=work_queue,
            security_group=network.service_security_group,
            task_count=TaskCount(minimum=sizing.worker_min_count, maximum=sizing.worker_max_count),
        )

    def _build_jobs(
        self,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        network: Network,
        runtime: TaskRuntime,
        dead_letters: JobDeadLetters,
    ) -> dict[str, ScheduledJob]:
        """One task definition and schedule per configured job, by the job's name."""
        sizing = environment.sizing
        return {
            job.name: ScheduledJob(
                self,
                f"Job{job.construct_id}",
                cluster=self.cluster,
                runtime=runtime,
                cpu=sizing.task_cpu,
                memory_mib=sizing.task_memory_mib,
                command=("python", "-m", job.module),
                schedule=job.schedule,
                timezone=job.timezone,
                enabled=job.enabled,
                security_group=network.service_security_group,
                dead_letters=dead_letters,
                description=f"{service.name} {environment.name}: python -m {job.module}",
            )
            for job in service.scheduled_jobs
        }

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
            # The server's certificate and name verified against the RDS authorities the
            # image carries: TLS alone would also talk to a spoofed endpoint.
            "DB_SSLMODE": "verify-full",
            "DB_SSLROOTCERT": RDS_CA_BUNDLE_IN_IMAGE,
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
        rollout: RollTasksOnSecretChange | None,
        work_queue: WorkQueue | None,
        job_dead_letters: JobDeadLetters | None,
    ) -> None:
        topic = AlarmTopic(self, "Alarms", email=service.alarm_email)
        alarms = AlarmFactory(topic)
        thresholds = environment.sizing.alarms
        namespace = service.metric_namespace(environment)
        # Each workload's task logs its migrations beside its own lines.
        migration_logs: dict[str, logs.ILogGroup] = {}
        if self.api is not None and self.load_balancer is not None:
            self._add_api_alarms(alarms, service, environment, self.api, self.load_balancer)
            migration_logs[""] = self.api.task.log_group
        if self.worker is not None and work_queue is not None:
            rollback = worker_deployment_alarm(
                alarms,
                self.worker.task.log_group,
                namespace=namespace,
                alarm_names=(
                    service.resource_name(environment, "deployment-worker-failures"),
                    service.resource_name(environment, "deployment-worker-exits"),
                ),
            )
            self.worker.service.enable_deployment_alarms(
                list(rollback.names), behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
            )
            for alarm in rollback.alarms:
                self.worker.service.node.add_dependency(alarm)
            service_alarms(alarms, self.worker.service, prefix="Worker")
            queue_alarms(alarms, work_queue.queue, work_queue.dead_letters, thresholds)
            migration_logs["Worker"] = self.worker.task.log_group
        for name, job in self.jobs.items():
            job_failure_notification(
                topic,
                job_name=name,
                task_definition_family=job.task.task_definition.family,
                environment_name=environment.name,
            )
            migration_logs[job.node.id] = job.task.log_group
        if job_dead_letters is not None:
            job_dead_letter_alarm(alarms, job_dead_letters.queue, thresholds)
        migration_alarm(alarms, migration_logs, namespace=namespace)
        database_alarms(alarms, database.instance, thresholds)
        cache_alarms(alarms, cache.node_ids, thresholds)
        if rollout is not None:
            secret_rollout_alarm(alarms, rollout.state_machine)
        CfnOutput(self, "AlarmTopicArn", value=topic.topic.topic_arn)

    def _add_api_alarms(
        self,
        alarms: AlarmFactory,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        api: LoadBalancedService,
        load_balancer: LoadBalancer,
    ) -> None:
        thresholds = environment.sizing.alarms
        deployment = deployment_alarms(
            alarms,
            name_prefix=service.resource_name(environment, "deployment"),
            target_groups=api.target_groups,
            error_percent=thresholds.service_5xx_percent,
        )
        # ECS watches these during every release and rolls it back when one fires.
        api.service.enable_deployment_alarms(
            list(deployment.names), behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
        )
        for alarm in deployment.alarms:
            api.service.node.add_dependency(alarm)
        load_balancer_alarms(
            alarms,
            load_balancer.alb,
            target_groups=api.target_groups,
            latency_p99_seconds=thresholds.service_latency_p99_seconds,
        )
        service_alarms(alarms, api.service)
        namespace = service.metric_namespace(environment)
        dependency_check_alarms(alarms, api.task.log_group, namespace=namespace)

    def _add_outputs(self, network: Network) -> None:
        """What the runbook's commands need (README: "Runbook")."""
        CfnOutput(self, "ClusterName", value=self.cluster.cluster.cluster_name)
        if self.api is not None and self.load_balancer is not None:
            CfnOutput(self, "ServiceName", value=self.api.service.service_name)
            CfnOutput(self, "LogGroupName", value=self.api.task.log_group.log_group_name)
            CfnOutput(
                self, "LoadBalancerDnsName", value=self.load_balancer.alb.load_balancer_dns_name
            )
        if self.worker is not None:
            CfnOutput(self, "WorkerServiceName", value=self.worker.service.service_name)
            CfnOutput(self, "WorkerLogGroupName", value=self.worker.task.log_group.log_group_name)
        for job in self.jobs.values():
            prefix = job.node.id.removeprefix("Job")
            CfnOutput(self, f"{prefix}ScheduleName", value=job.schedule.ref)
            CfnOutput(
                self,
                f"{prefix}TaskDefinitionArn",
                value=job.task.task_definition.task_definition_arn,
            )
            CfnOutput(self, f"{prefix}LogGroupName", value=job.task.log_group.log_group_name)
        if self.jobs:
            # Where a job runs when started by hand (aws ecs run-task).
            subnets = network.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            CfnOutput(self, "TaskSubnetIds", value=Fn.join(",", subnets.subnet_ids))
            CfnOutput(
                self,
                "TaskSecurityGroupId",
                value=network.service_security_group.security_group_id,
            )
        sessions = self.cluster.exec_sessions
        if sessions is not None:
            CfnOutput(self, "ExecSessionKeyArn", value=sessions.key.key_arn)
            CfnOutput(self, "ExecLogGroupName", value=sessions.log_group.log_group_name)
