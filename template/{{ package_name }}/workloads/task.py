"""One workload's task, as every workload of the service runs it: two roles with two duties,
a task definition for the service's processor, a log group with a retention, the schema
migrations as an init container, and the workload's own container from the same image, with
the stores' secrets injected by ECS at start."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..acknowledgements import ECR_AUTHORIZATION_TOKEN, ECS_EXEC_CHANNELS, PLAIN_TASK_ENVIRONMENT
from ..log_groups import retained_log_group
from ..policy import acknowledge
from .cluster import ComputeCluster, ExecSessions

# The workload's own container, and the init container that applies the schema migrations
# before it starts.
CONTAINER_NAME = "App"
MIGRATION_CONTAINER_NAME = "Migrate"
MIGRATION_COMMAND = ("python", "-m", "app.migrate")
# Where ECS Exec's agent writes inside a container whose root file system is read-only.
EXEC_AGENT_PATHS = {"ExecAgentState": "/var/lib/amazon", "ExecAgentLogs": "/var/log/amazon"}


@dataclass(frozen=True, kw_only=True)
class TaskRuntime:
    """What every workload's task has in common: the image (built once, for one processor),
    how its code reaches the stores, and how its migrations run."""

    service_name: str
    image: ecs.ContainerImage
    cpu_architecture: ecs.CpuArchitecture
    # SERVICE_NAME, DB_* and REDIS_* for the workload's container.
    environment: Mapping[str, str]
    # Read by the ECS agent at task start; never in the task definition itself.
    secrets: Mapping[str, ecs.Secret]
    # The migrations' own environment and secrets: the database's, nothing of Redis.
    migration_environment: Mapping[str, str]
    migration_secrets: Mapping[str, ecs.Secret]
    # The key of the stores' secrets: the execution role decrypts with it only through
    # Secrets Manager.
    secrets_key: kms.IKey
    log_retention: logs.RetentionDays


class WorkloadTask(Construct):
    """Separate execution and task roles, the task definition, its log group, and the
    `Migrate` and `App` containers: the application starts only after the migrations of its
    own image exited 0. If they fail, the task stops before it does any work, the circuit
    breaker rolls the release back, and the previous release keeps running."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: TaskRuntime,
        cpu: int,
        memory_mib: int,
        command: Sequence[str] | None = None,
        port: int | None = None,
        environment: Mapping[str, str] | None = None,
        stop_timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._build_roles(runtime)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            execution_role=self.execution_role,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=runtime.cpu_architecture,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.log_group = retained_log_group(self, "Logs", retention=runtime.log_retention)
        self._allow_decrypting_secrets(runtime.secrets_key)
        migrations = self._migration_container(runtime)
        self.container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=runtime.image,
            command=None if command is None else list(command),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="app", log_group=self.log_group),
            readonly_root_filesystem=True,
            port_mappings=None if port is None else [ecs.PortMapping(container_port=port)],
            environment={**runtime.environment, **(environment or {})},
            secrets=dict(runtime.secrets),
            # How long the workload may take to stop after SIGTERM (ECS's default: 30 s).
            stop_timeout=stop_timeout,
            linux_parameters=_with_an_init_process(self, "LinuxParameters"),
        )
        self.container.add_container_dependencies(
            ecs.ContainerDependency(
                container=migrations, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        acknowledge(self.task_definition, PLAIN_TASK_ENVIRONMENT)
        acknowledge(self.execution_role.node.find_child("DefaultPolicy"), ECR_AUTHORIZATION_TOKEN)

    def allow_exec_sessions(self, sessions: ExecSessions) -> None:
        """Let operators open a shell in the workload's container: the exec agent gets two
        writable volumes (the root file system stays read-only), and the task role decrypts
        the sessions and writes their log, nothing more (CDK adds the Session Manager
        channels when the service enables ECS Exec)."""
        for volume, path in EXEC_AGENT_PATHS.items():
            self.task_definition.add_volume(name=volume)
            self.container.add_mount_points(
                ecs.MountPoint(container_path=path, source_volume=volume, read_only=False)
            )
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptExecSessions", actions=["kms:Decrypt"], resources=[sessions.key.key_arn]
            )
        )
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                sid="FindTheSessionLogGroup", actions=["logs:DescribeLogGroups"], resources=["*"]
            )
        )
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteSessionLogs",
                actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                resources=[sessions.log_group.log_group_arn],
            )
        )
        acknowledge(self.task_role.node.find_child("DefaultPolicy"), ECS_EXEC_CHANNELS)

    def _build_roles(self, runtime: TaskRuntime) -> None:
        """Two roles, two duties: ECS uses the execution role to pull the image, write logs and
        read the secrets; the application runs with the task role, which holds none of that."""
        stack = Stack.of(self)
        ecs_tasks = iam.ServicePrincipal(
            "ecs-tasks.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{stack.region}:{stack.account}:*"},
            },
        )
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=ecs_tasks,
            description=f"ECS starts {runtime.service_name} tasks: image, logs, secrets",
        )
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=ecs_tasks,
            description=f"The {runtime.service_name} application itself",
        )

    def _allow_decrypting_secrets(self, key: kms.IKey) -> None:
        """The secrets live in the datastore stack: a grant through their key would write this
        stack's roles into the key's policy over there (a cycle between the two stacks), so
        the execution role gets kms:Decrypt here, and only through Secrets Manager."""
        region = Stack.of(self).region
        self.execution_role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptTheSecretsThroughSecretsManager",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                },
            )
        )

    def _migration_container(self, runtime: TaskRuntime) -> ecs.ContainerDefinition:
        """`python -m app.migrate` from the workload's own image, before its code starts: the
        service's README ("Schema migrations") says how its advisory lock lets one of the
        tasks a release starts together migrate while the others find the schema current,
        and why a database ahead of the code (a rollback) is not an error."""
        return self.task_definition.add_container(
            MIGRATION_CONTAINER_NAME,
            image=runtime.image,
            command=list(MIGRATION_COMMAND),
            # Not essential: it exits when done; the workload's container depends on it.
            essential=False,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="migrate", log_group=self.log_group),
            readonly_root_filesystem=True,
            environment=dict(runtime.migration_environment),
            secrets=dict(runtime.migration_secrets),
            linux_parameters=_with_an_init_process(self, "MigrationLinuxParameters"),
        )


def _with_an_init_process(scope: Construct, construct_id: str) -> ecs.LinuxParameters:
    """A tiny init process as PID 1 (ECS's initProcessEnabled): it passes SIGTERM on and reaps
    orphans. Python as PID 1 ignores a signal it has no handler for, so a migration or a job
    stopped by ECS would only end at SIGKILL, 30 s later, without cleaning up."""
    return ecs.LinuxParameters(scope, construct_id, init_process_enabled=True)


def workload_service(
    scope: Construct,
    *,
    cluster: ComputeCluster,
    task: WorkloadTask,
    security_group: ec2.ISecurityGroup,
    health_check_grace_period: Duration | None = None,
    deployment_strategy: ecs.DeploymentStrategy | None = None,
    canary_configuration: ecs.TrafficShiftConfig | None = None,
    linear_configuration: ecs.TrafficShiftConfig | None = None,
    bake_time: Duration | None = None,
) -> ecs.FargateService:
    """The ECS service ``Service`` that runs ``task`` under ``scope``, placed on the cluster,
    with ECS Exec when the cluster has sessions. The keyword arguments after the security
    group are the load-balanced service's own (health check grace, traffic shifting)."""
    # One place for what every workload's service must keep alike, so that a fix to one
    # (the subnets, the circuit breaker, the rolling percentages, Exec) reaches both the API
    # and the worker: private subnets and no public IP (the tasks reach AWS through the NAT
    # and the endpoints), a circuit breaker that rolls a release back, a full set of old
    # tasks until the new ones are healthy, and the cluster's capacity providers.
    service = ecs.FargateService(
        scope,
        "Service",
        cluster=cluster.cluster,
        task_definition=task.task_definition,
        # No desired count: CloudFormation would set it again on every update of the service
        # (each release), scaling a service under load back to its minimum. Without one,
        # ECS starts a new service with one task, keeps the current count on updates, and
        # the scalable target raises it to the sizing's minimum when it registers.
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        security_groups=[security_group],
        assign_public_ip=False,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        min_healthy_percent=100,
        max_healthy_percent=200,
        health_check_grace_period=health_check_grace_period,
        enable_execute_command=cluster.exec_sessions is not None,
        capacity_provider_strategies=cluster.capacity_provider_strategies,
        deployment_strategy=deployment_strategy,
        canary_configuration=canary_configuration,
        linear_configuration=linear_configuration,
        bake_time=bake_time,
    )
    cluster.place(service)
    if cluster.exec_sessions is not None:
        task.allow_exec_sessions(cluster.exec_sessions)
    return service
