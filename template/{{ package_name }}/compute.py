"""Phase 4b, the execution platform: ECS Fargate behind an Application Load Balancer.

The service runs in private subnets without public IPs. Every task first runs the schema
migrations of its own image (an init container the application container waits for), so a
release's schema is in place before its code takes traffic, and a migration that fails stops
the release. A release that fails its health checks is stopped and rolled back by the circuit
breaker; one that raises the deployment alarms (5xx rate, unhealthy targets) is rolled back
by ECS. Production sized medium or large
gets a release's traffic in steps (canary or linear, ``sizing.py``) through a second target
group. Secrets reach the container only at run time, from Secrets Manager; every log goes to
CloudWatch Logs with a retention.
"""

from pathlib import Path

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .acknowledgements import (
    ACCESS_LOG_BUCKET,
    ECR_AUTHORIZATION_TOKEN,
    ECS_EXEC_CHANNELS,
    PLAIN_TASK_ENVIRONMENT,
    TRAFFIC_SHIFT_DESCRIBES,
)
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
from .config import CpuArchitecture, DomainConfig, EnvironmentConfig, ServiceConfig
from .datastore import APPLICATION_USER, Cache, Database
from .firewall import WebFirewall
from .log_groups import retained_log_group
from .network import Network
from .policy import acknowledge
from .secret_rollout import RollTasksOnSecretChange
from .sizing import Sizing

# The sample service's Dockerfile: `cdk deploy` builds it and pushes it to the bootstrap
# stack's ECR repository before the service is updated, so the first deploy has its image.
SERVICE_SOURCE = Path(__file__).resolve().parent.parent / "service"
ACCESS_LOG_EXPIRY = Duration.days(365)
CPU_TARGET_PERCENT = 60
CONTAINER_NAME = "App"
# The init container that applies the schema migrations before the application starts.
MIGRATION_CONTAINER_NAME = "Migrate"
MIGRATION_COMMAND = ["python", "-m", "app.migrate"]
# What the load balancer answers for the readiness path.
NOT_FOUND = elbv2.ListenerAction.fixed_response(
    404, content_type="application/json", message_body='{"error": "not found"}'
)
# Listener rule priorities: the readiness block before the canary's production rule.
READINESS_BLOCK_PRIORITY = 10
PRODUCTION_RULE_PRIORITY = 100
# The processor of the task definition and the platform its image is built for, per answer.
PLATFORMS: dict[CpuArchitecture, tuple[ecs.CpuArchitecture, ecr_assets.Platform]] = {
    "arm64": (ecs.CpuArchitecture.ARM64, ecr_assets.Platform.LINUX_ARM64),
    "x86_64": (ecs.CpuArchitecture.X86_64, ecr_assets.Platform.LINUX_AMD64),
}
# A Spot environment runs every task on Fargate Spot, with no on-demand base: dev and staging
# run one or two small tasks, so a base of one would keep the only task on demand and save
# nothing, while an interruption costs a non-production environment a few minutes.
FARGATE_SPOT_ONLY = [ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1)]
# Where ECS Exec's agent writes inside a container whose root file system is read-only.
EXEC_AGENT_PATHS = {"ExecAgentState": "/var/lib/amazon", "ExecAgentLogs": "/var/log/amazon"}


class LoadBalancer(Construct):
    """The only public entry point: an ALB in the public subnets, HTTPS when a domain is
    given (HTTP then redirects), with access logs in an encrypted, TLS-only bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: Network,
        load_balancer_name: str,
        domain: DomainConfig | None,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=ACCESS_LOG_EXPIRY,
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            # A generated name: a bucket orphaned by a failed first create blocks nothing.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(self.access_logs, ACCESS_LOG_BUCKET)
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            load_balancer_name=load_balancer_name,
            vpc=network.vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=network.load_balancer_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
        )
        self.alb.log_access_logs(self.access_logs, prefix="alb")

        if domain is None:
            self.listener = self.alb.add_listener(
                "Http", port=80, protocol=elbv2.ApplicationProtocol.HTTP, open=False
            )
            return

        zone = route53.HostedZone.from_hosted_zone_attributes(
            self,
            "Zone",
            hosted_zone_id=domain.hosted_zone_id,
            zone_name=domain.hosted_zone_name,
        )
        certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=domain.domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        self.listener = self.alb.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[certificate],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
        )
        self.alb.add_redirect(source_port=80, target_port=443, open=False)
        route53.ARecord(
            self,
            "AliasRecord",
            zone=zone,
            record_name=domain.domain_name,
            target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self.alb)),
        )


class FargateService(Construct):
    """The service's tasks: separate execution and task roles, secrets injected at run time,
    a circuit breaker that rolls back, CPU-based autoscaling, and the listener rules that
    decide what reaches them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        network: Network,
        database: Database,
        cache: Cache,
        listener: elbv2.ApplicationListener,
    ) -> None:
        super().__init__(scope, construct_id)
        sizing = environment.sizing
        stack = Stack.of(self)
        cpu_architecture, image_platform = PLATFORMS[service.cpu_architecture]
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=network.vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
        )

        # Two roles, two duties: ECS uses the execution role to pull the image, write logs and
        # read the secrets; the application runs with the task role, which holds none of that.
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
            description=f"ECS starts {service.name} tasks: image, logs, secrets",
        )
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=ecs_tasks,
            description=f"The {service.name} application itself",
        )

        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=sizing.task_cpu,
            memory_limit_mib=sizing.task_memory_mib,
            execution_role=self.execution_role,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=cpu_architecture,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.log_group = retained_log_group(
            self,
            "Logs",
            retention=environment.log_retention,
        )
        app_secret = self._readable_secret("AppSecret", database.app_secret)
        auth_token = self._readable_secret("AuthToken", cache.auth_token)
        # The secrets' key decrypts for the execution role only through Secrets Manager.
        self.execution_role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptTheSecretsThroughSecretsManager",
                actions=["kms:Decrypt"],
                resources=[database.secrets_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"
                    }
                },
            )
        )
        # One image for both containers: the migrations that run are the ones of the code that
        # starts (the same digest, built once and promoted).
        image = ecs.ContainerImage.from_asset(str(SERVICE_SOURCE), platform=image_platform)
        database_environment = {
            "SERVICE_NAME": service.name,
            "DB_HOST": database.instance.db_instance_endpoint_address,
            "DB_PORT": database.instance.db_instance_endpoint_port,
            "DB_NAME": service.database_name,
        }
        # Read by the ECS agent at task start; never in the task definition itself. The
        # application's own database user: the master user's secret is not the task's.
        database_secrets = {
            "DB_USERNAME": ecs.Secret.from_secrets_manager(app_secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(app_secret, "password"),
        }
        migrations = self._migration_container(image, database_environment, database_secrets)
        container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=image,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="app", log_group=self.log_group),
            readonly_root_filesystem=True,
            port_mappings=[ecs.PortMapping(container_port=service.container_port)],
            environment={
                **database_environment,
                "PORT": str(service.container_port),
                "HEALTH_CHECK_PATH": service.health_check_path,
                "READINESS_PATH": service.readiness_path,
                "REDIS_HOST": cache.replication_group.attr_primary_end_point_address,
                "REDIS_PORT": cache.replication_group.attr_primary_end_point_port,
                "REDIS_TLS": "true",
                # One server process per vCPU: one Python process serves on one core only.
                "WEB_CONCURRENCY": str(max(1, sizing.task_cpu // 1024)),
            },
            secrets={
                **database_secrets,
                "REDIS_AUTH_TOKEN": ecs.Secret.from_secrets_manager(auth_token),
            },
        )
        # The application starts only after the migrations exited 0. If they fail, the task
        # stops before it takes traffic, the circuit breaker rolls the release back, and the
        # running tasks of the previous release keep serving.
        container.add_container_dependencies(
            ecs.ContainerDependency(
                container=migrations, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        acknowledge(self.task_definition, PLAIN_TASK_ENVIRONMENT)
        acknowledge(self.execution_role.node.find_child("DefaultPolicy"), ECR_AUTHORIZATION_TOKEN)
        if service.enable_ecs_exec:
            # The agent ECS Exec starts in the container writes its state and logs here: the
            # root file system stays read-only.
            for volume, path in EXEC_AGENT_PATHS.items():
                self.task_definition.add_volume(name=volume)
                container.add_mount_points(
                    ecs.MountPoint(container_path=path, source_volume=volume, read_only=False)
                )

        gradual = sizing.shifts_traffic
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            # No desired count: CloudFormation would set it again on every update of the service
            # (each release), scaling a service under load back to its minimum. Without one,
            # ECS starts a new service with one task, keeps the current count on updates, and
            # the scalable target raises it to the sizing's minimum when it registers.
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[network.service_security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=Duration.seconds(60),
            enable_execute_command=service.enable_ecs_exec,
            # With a capacity provider strategy CDK writes no LaunchType: CloudFormation
            # updates the service in place (neither property is create-only), a new deployment.
            capacity_provider_strategies=FARGATE_SPOT_ONLY if environment.fargate_spot else None,
            **_traffic_shifting(sizing) if gradual else {},
        )
        if environment.fargate_spot:
            self._enable_fargate_spot()
        if service.enable_ecs_exec:
            self._enable_exec_sessions(environment)

        # The target groups are the service's own, not children of the listener: the service
        # then depends on the listener alone (no DependsOn that repeats its own Ref).
        self.target_group = self._target_group("TargetGroup", service, network)
        self.target_groups = [self.target_group]
        # The listener forwards to the service, except its readiness path: that checks
        # PostgreSQL and Redis, for the team's tools, never for the world (it would tell
        # anyone which dependency is down, and invite load on both).
        listener.add_target_groups("Service", target_groups=[self.target_group])
        elbv2.ApplicationListenerRule(
            self,
            "ReadinessNotPublic",
            listener=listener,
            priority=READINESS_BLOCK_PRIORITY,
            conditions=[
                elbv2.ListenerCondition.path_patterns(
                    [service.readiness_path, f"{service.readiness_path}/*"]
                )
            ],
            action=NOT_FOUND,
        )
        if not gradual:
            self.service.attach_to_application_target_group(self.target_group)
        else:
            self._shift_traffic(service, network, listener)

        scaling = self.service.auto_scale_task_count(
            min_capacity=sizing.task_min_count, max_capacity=sizing.task_max_count
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=CPU_TARGET_PERCENT,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )

    def _migration_container(
        self,
        image: ecs.ContainerImage,
        environment: dict[str, str],
        secrets: dict[str, ecs.Secret],
    ) -> ecs.ContainerDefinition:
        """`python -m app.migrate` before the application, in every task: the service's
        README ("Schema migrations") says how it takes its advisory lock, so that of the tasks
        a release starts together one migrates and the others find the schema current, and
        why a database ahead of the code (a rollback) is not an error."""
        return self.task_definition.add_container(
            MIGRATION_CONTAINER_NAME,
            image=image,
            command=MIGRATION_COMMAND,
            # Not essential: it exits when done; the application container depends on it.
            essential=False,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="migrate", log_group=self.log_group),
            readonly_root_filesystem=True,
            environment={
                **environment,
                # Multi-user rotation logs in as `app` or `app_clone`; every table belongs to
                # `app` either way (`SET ROLE`), so the next rotation's user can alter it.
                "DB_SCHEMA_OWNER": APPLICATION_USER,
            },
            secrets=secrets,
        )

    def _shift_traffic(
        self, service: ServiceConfig, network: Network, listener: elbv2.ApplicationListener
    ) -> None:
        """A second target group and the production rule whose weights ECS moves between the
        two: a release's new tasks register in whichever group holds none of the traffic.
        The rule matches every path, so the listener's own action is never reached."""
        alternate = self._target_group("AlternateTargetGroup", service, network)
        self.target_groups.append(alternate)
        self.production_rule = elbv2.ApplicationListenerRule(
            self,
            "ProductionRule",
            listener=listener,
            priority=PRODUCTION_RULE_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns(["/*"])],
            action=elbv2.ListenerAction.weighted_forward(
                [
                    elbv2.WeightedTargetGroup(target_group=self.target_group, weight=100),
                    elbv2.WeightedTargetGroup(target_group=alternate, weight=0),
                ]
            ),
        )
        # Written as the service's property, not through CDK's AlternateTarget: CDK's
        # attachment also orders the service after the production rule, which the rule's
        # reference below implies already (cfn-lint W3005). The load balancer's security
        # group reaches the tasks through the network stack's rule.
        cfn_service = self.service.node.default_child
        assert isinstance(cfn_service, ecs.CfnService)
        cfn_service.add_property_override(
            "LoadBalancers",
            [
                {
                    "ContainerName": CONTAINER_NAME,
                    "ContainerPort": service.container_port,
                    "TargetGroupArn": self.target_group.target_group_arn,
                    "AdvancedConfiguration": {
                        "AlternateTargetGroupArn": alternate.target_group_arn,
                        "ProductionListenerRule": self.production_rule.listener_rule_arn,
                        "RoleArn": self._deployment_role(listener, alternate).role_arn,
                    },
                }
            ],
        )

    def _enable_fargate_spot(self) -> None:
        """Fargate's capacity providers on the cluster, associated before the service uses
        them: CDK's own association (enable_fargate_capacity_providers) is added after
        construction with no dependency, and ECS refuses a strategy naming a provider the
        cluster does not have yet (aws/containers-roadmap#631)."""
        providers = ecs.CfnClusterCapacityProviderAssociations(
            self,
            "CapacityProviders",
            cluster=self.cluster.cluster_name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategy=[],
        )
        self.service.node.add_dependency(providers)

    def _enable_exec_sessions(self, environment: EnvironmentConfig) -> None:
        """ECS Exec sessions encrypted with their own key and logged to their own group. The
        cluster's setting is written here, not through CDK's property, so that the task role
        gets exactly the documented permissions: CDK adds the Session Manager channels, this
        adds the session key and the one log group."""
        stack = Stack.of(self)
        self.exec_key = kms.Key(
            self,
            "ExecSessionKey",
            description=f"{stack.stack_name}: ECS Exec sessions",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.exec_log_group = retained_log_group(
            self, "ExecLogs", retention=environment.log_retention
        )
        cluster = self.cluster.node.default_child
        assert isinstance(cluster, ecs.CfnCluster)
        cluster.configuration = ecs.CfnCluster.ClusterConfigurationProperty(
            execute_command_configuration=ecs.CfnCluster.ExecuteCommandConfigurationProperty(
                kms_key_id=self.exec_key.key_arn,
                logging="OVERRIDE",
                log_configuration=ecs.CfnCluster.ExecuteCommandLogConfigurationProperty(
                    cloud_watch_log_group_name=self.exec_log_group.log_group_name,
                    cloud_watch_encryption_enabled=True,
                ),
            )
        )
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptExecSessions",
                actions=["kms:Decrypt"],
                resources=[self.exec_key.key_arn],
            )
        )
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                sid="FindTheSessionLogGroup",
                actions=["logs:DescribeLogGroups"],
                resources=["*"],
            )
        )
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteSessionLogs",
                actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                resources=[self.exec_log_group.log_group_arn],
            )
        )
        acknowledge(self.task_role.node.find_child("DefaultPolicy"), ECS_EXEC_CHANNELS)

    def _readable_secret(
        self, construct_id: str, secret: secretsmanager.ISecret
    ) -> secretsmanager.ISecret:
        """A secret of the datastore stack, without its key: a grant through the key would
        write this stack's roles into the key's policy over there (a cycle between the two
        stacks). The execution role gets kms:Decrypt on the key in its own policy instead."""
        return secretsmanager.Secret.from_secret_complete_arn(self, construct_id, secret.secret_arn)

    def _target_group(
        self, construct_id: str, service: ServiceConfig, network: Network
    ) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            self,
            construct_id,
            vpc=network.vpc,
            port=service.container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(30),
            # Liveness: answers while the process serves HTTP, without touching PostgreSQL
            # or Redis, so an outage of either never takes every task out at once.
            health_check=elbv2.HealthCheck(
                path=service.health_check_path,
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )

    def _deployment_role(
        self, listener: elbv2.ApplicationListener, alternate: elbv2.ApplicationTargetGroup
    ) -> iam.Role:
        """What ECS needs to shift a release's traffic: this listener, its production rule
        and the two target groups (AmazonECSInfrastructureRolePolicyForLoadBalancers, cut
        down to this service's resources)."""
        role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
            description="ECS shifts a release's traffic between the two target groups",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeLoadBalancing",
                actions=[
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeRules",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetHealth",
                ],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RegisterTasksInTheTwoTargetGroups",
                actions=[
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets",
                ],
                resources=[self.target_group.target_group_arn, alternate.target_group_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ShiftTrafficOnTheProductionRule",
                actions=["elasticloadbalancing:ModifyRule", "elasticloadbalancing:ModifyListener"],
                resources=[self.production_rule.listener_rule_arn, listener.listener_arn],
            )
        )
        policy = role.node.find_child("DefaultPolicy")
        acknowledge(policy, TRAFFIC_SHIFT_DESCRIBES)
        # ECS checks the role's permissions when the service is created or updated.
        self.service.node.add_dependency(policy)
        return role


def _traffic_shifting(sizing: Sizing) -> dict[str, object]:
    """The FargateService properties of a canary or linear release (sizing.py)."""
    assert sizing.deployment_step_percent is not None
    assert sizing.deployment_step_bake_minutes is not None
    assert sizing.deployment_bake_minutes is not None
    shift = ecs.TrafficShiftConfig(
        step_percent=sizing.deployment_step_percent,
        step_bake_time=Duration.minutes(sizing.deployment_step_bake_minutes),
    )
    canary = sizing.deployment_strategy == "canary"
    return {
        "deployment_strategy": (
            ecs.DeploymentStrategy.CANARY if canary else ecs.DeploymentStrategy.LINEAR
        ),
        "canary_configuration" if canary else "linear_configuration": shift,
        # The old tasks stay this long after all traffic moved: a rollback is instant.
        "bake_time": Duration.minutes(sizing.deployment_bake_minutes),
    }


class ComputeStack(Stack):
    """Phase 4b: the public entry point and the service behind it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ServiceConfig,
        environment: EnvironmentConfig,
        network: Network,
        database: Database,
        cache: Cache,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.load_balancer = LoadBalancer(
            self,
            "LoadBalancer",
            network=network,
            load_balancer_name=service.resource_name(environment),
            domain=environment.domain,
            deletion_protection=environment.is_production,
        )
        WebFirewall(
            self,
            "Firewall",
            load_balancer=self.load_balancer.alb,
            name=service.resource_name(environment),
            log_retention=environment.log_retention,
        )
        self.service = FargateService(
            self,
            "Service",
            service=service,
            environment=environment,
            network=network,
            database=database,
            cache=cache,
            listener=self.load_balancer.listener,
        )
        rollout = RollTasksOnSecretChange(
            self,
            "RollOnSecretChange",
            service=self.service.service,
            # What the tasks read: the application's database user, not the master user.
            secrets=[database.app_secret, cache.auth_token],
            log_retention=environment.log_retention,
        )
        alarm_topic = AlarmTopic(self, "Alarms", email=service.alarm_email)
        alarms = AlarmFactory(alarm_topic)
        thresholds = environment.sizing.alarms
        deployment = deployment_alarms(
            alarms,
            name_prefix=service.resource_name(environment, "deployment"),
            target_groups=self.service.target_groups,
            error_percent=thresholds.service_5xx_percent,
        )
        # ECS watches these during every release and rolls it back when one fires.
        self.service.service.enable_deployment_alarms(
            list(deployment.names), behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
        )
        for alarm in deployment.alarms:
            self.service.service.node.add_dependency(alarm)
        load_balancer_alarms(
            alarms,
            self.load_balancer.alb,
            target_groups=self.service.target_groups,
            latency_p99_seconds=thresholds.service_latency_p99_seconds,
        )
        service_alarms(alarms, self.service.service)
        namespace = service.metric_namespace(environment)
        dependency_check_alarms(alarms, self.service.log_group, namespace=namespace)
        migration_alarm(alarms, self.service.log_group, namespace=namespace)
        database_alarms(alarms, database.instance, thresholds)
        cache_alarms(alarms, cache.node_ids, thresholds)
        secret_rollout_alarm(alarms, rollout.state_machine)
        CfnOutput(self, "AlarmTopicArn", value=alarm_topic.topic.topic_arn)
        # What the runbook's commands need (README: "Runbook").
        CfnOutput(self, "ClusterName", value=self.service.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.service.service.service_name)
        CfnOutput(self, "LogGroupName", value=self.service.log_group.log_group_name)
        CfnOutput(self, "LoadBalancerDnsName", value=self.load_balancer.alb.load_balancer_dns_name)
        if service.enable_ecs_exec:
            CfnOutput(self, "ExecSessionKeyArn", value=self.service.exec_key.key_arn)
            CfnOutput(self, "ExecLogGroupName", value=self.service.exec_log_group.log_group_name)
