"""Phase 4b, the execution platform: ECS Fargate behind an Application Load Balancer.

The service runs in private subnets without public IPs. A deployment that fails its health
checks is stopped and rolled back by the circuit breaker. Secrets reach the container only at
run time, from Secrets Manager; every log goes to CloudWatch Logs with a retention.
"""

from pathlib import Path

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .acknowledgements import ACCESS_LOG_BUCKET, ECR_AUTHORIZATION_TOKEN, PLAIN_TASK_ENVIRONMENT
from .alarms import ServiceAlarms
from .config import DomainConfig, EnvironmentConfig, ServiceConfig
from .datastore import Cache, Database
from .firewall import WebFirewall
from .log_groups import retained_log_group
from .network import Network
from .policy import acknowledge
from .secret_rollout import RollTasksOnSecretChange

# The sample service's Dockerfile: `cdk deploy` builds it and pushes it to the bootstrap
# stack's ECR repository before the service is updated, so the first deploy has its image.
SERVICE_SOURCE = Path(__file__).resolve().parent.parent / "service"
ACCESS_LOG_EXPIRY = Duration.days(365)
CPU_TARGET_PERCENT = 60


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
    a circuit breaker that rolls back, and CPU-based autoscaling."""

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
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=network.vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
        )

        # Two roles, two duties: ECS uses the execution role to pull the image, write logs and
        # read the secrets; the application runs with the task role and may do nothing else.
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
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.log_group = retained_log_group(
            self,
            "Logs",
            retention=environment.log_retention,
        )
        self.task_definition.add_container(
            "App",
            image=ecs.ContainerImage.from_asset(
                str(SERVICE_SOURCE), platform=ecr_assets.Platform.LINUX_AMD64
            ),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="app", log_group=self.log_group),
            readonly_root_filesystem=True,
            port_mappings=[ecs.PortMapping(container_port=service.container_port)],
            environment={
                "SERVICE_NAME": service.name,
                "PORT": str(service.container_port),
                "HEALTH_CHECK_PATH": service.health_check_path,
                "DB_HOST": database.instance.db_instance_endpoint_address,
                "DB_PORT": database.instance.db_instance_endpoint_port,
                "DB_NAME": service.database_name,
                "REDIS_HOST": cache.replication_group.attr_primary_end_point_address,
                "REDIS_PORT": cache.replication_group.attr_primary_end_point_port,
                "REDIS_TLS": "true",
            },
            # Read by the ECS agent at task start; never in the task definition itself.
            secrets={
                "DB_USERNAME": ecs.Secret.from_secrets_manager(database.secret, "username"),
                "DB_PASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
                "REDIS_AUTH_TOKEN": ecs.Secret.from_secrets_manager(cache.auth_token),
            },
        )
        acknowledge(self.task_definition, PLAIN_TASK_ENVIRONMENT)
        acknowledge(self.execution_role.node.find_child("DefaultPolicy"), ECR_AUTHORIZATION_TOKEN)

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=sizing.task_min_count,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[network.service_security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=Duration.seconds(60),
            enable_execute_command=False,
        )
        # The target group is the service's own, not a child of the listener: the service
        # then depends on the listener alone (no DependsOn that repeats its own Ref).
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=network.vpc,
            port=service.container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=service.health_check_path,
                interval=Duration.seconds(20),
                # The sample health check opens fresh connections to PostgreSQL and Redis.
                timeout=Duration.seconds(10),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        listener.add_target_groups("Service", target_groups=[self.target_group])

        scaling = self.service.auto_scale_task_count(
            min_capacity=sizing.task_min_count, max_capacity=sizing.task_max_count
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=CPU_TARGET_PERCENT,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )


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
        RollTasksOnSecretChange(
            self,
            "RollOnSecretChange",
            service=self.service.service,
            secrets=[database.secret, cache.auth_token],
            log_retention=environment.log_retention,
        )
        alarms = ServiceAlarms(
            self,
            "Alarms",
            load_balancer=self.load_balancer.alb,
            target_group=self.service.target_group,
            service=self.service.service,
            database=database.instance,
        )
        CfnOutput(self, "AlarmTopicArn", value=alarms.topic.topic_arn)
        # What the runbook's commands need (README: "Runbook").
        CfnOutput(self, "ClusterName", value=self.service.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.service.service.service_name)
        CfnOutput(self, "LoadBalancerDnsName", value=self.load_balancer.alb.load_balancer_dns_name)
