"""The load-balanced service: the API's ECS service behind the listener, its target groups,
the rule that keeps the readiness path private, how a release reaches traffic (rolling, or
shifted in canary or linear steps through a second target group) and CPU autoscaling."""

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..acknowledgements import TRAFFIC_SHIFT_DESCRIBES
from ..policy import acknowledge
from ..sizing import Deployment, Rolling, Shifted
from .cluster import ComputeCluster
from .task import CONTAINER_NAME, TaskRuntime, WorkloadTask, workload_service

CPU_TARGET_PERCENT = 60
# What the load balancer answers for the readiness path.
NOT_FOUND = elbv2.ListenerAction.fixed_response(
    404, content_type="application/json", message_body='{"error": "not found"}'
)
# Listener rule priorities: the readiness block before the canary's production rule.
READINESS_BLOCK_PRIORITY = 10
PRODUCTION_RULE_PRIORITY = 100


@dataclass(frozen=True, kw_only=True)
class HttpEndpoints:
    """Where the service listens and what the load balancer may see of it."""

    port: int
    # Liveness: what the load balancer checks. Readiness: the stores, for the team only.
    health_check_path: str
    readiness_path: str


@dataclass(frozen=True, kw_only=True)
class TaskCount:
    """How many tasks autoscaling keeps, at least and at most."""

    minimum: int
    maximum: int


class LoadBalancedService(Construct):
    """The API's tasks behind the listener: a circuit breaker that rolls back, CPU-based
    autoscaling, and the listener rules that decide what reaches them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ComputeCluster,
        runtime: TaskRuntime,
        cpu: int,
        memory_mib: int,
        endpoints: HttpEndpoints,
        security_group: ec2.ISecurityGroup,
        listener: elbv2.ApplicationListener,
        deployment: Deployment,
        task_count: TaskCount,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # "Default": the task's resources keep the logical ids they had before the compute
        # layer was split into constructs (CDK leaves a "Default" out of the id it derives).
        self.task = WorkloadTask(
            self,
            "Default",
            runtime=runtime,
            cpu=cpu,
            memory_mib=memory_mib,
            port=endpoints.port,
            environment={**_http_environment(endpoints, cpu), **(environment or {})},
        )
        self.service = self._build_service(cluster, security_group, deployment)

        # The target groups are the service's own, not children of the listener: the service
        # then depends on the listener alone (no DependsOn that repeats its own Ref).
        vpc = cluster.cluster.vpc
        self.target_group = self._target_group("TargetGroup", vpc, endpoints)
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
                    [endpoints.readiness_path, f"{endpoints.readiness_path}/*"]
                )
            ],
            action=NOT_FOUND,
        )
        if isinstance(deployment, Rolling):
            self.service.attach_to_application_target_group(self.target_group)
        else:
            self._shift_traffic(vpc, endpoints, listener)
        self._scale_on_cpu(task_count)

    def _build_service(
        self,
        cluster: ComputeCluster,
        security_group: ec2.ISecurityGroup,
        deployment: Deployment,
    ) -> ecs.FargateService:
        shifted = deployment if isinstance(deployment, Shifted) else None
        canary = shifted is not None and shifted.kind == "canary"
        shift = (
            None
            if shifted is None
            else ecs.TrafficShiftConfig(
                step_percent=shifted.step_percent,
                step_bake_time=Duration.minutes(shifted.step_bake_minutes),
            )
        )
        strategy = None
        if shifted is not None:
            strategy = ecs.DeploymentStrategy.CANARY if canary else ecs.DeploymentStrategy.LINEAR
        return workload_service(
            self,
            cluster=cluster,
            task=self.task,
            security_group=security_group,
            health_check_grace_period=Duration.seconds(60),
            deployment_strategy=strategy,
            canary_configuration=shift if canary else None,
            linear_configuration=shift if shifted is not None and not canary else None,
            # The old tasks stay this long after all traffic moved: a rollback is instant.
            bake_time=None if shifted is None else Duration.minutes(shifted.bake_minutes),
        )

    def _scale_on_cpu(self, task_count: TaskCount) -> None:
        scaling = self.service.auto_scale_task_count(
            min_capacity=task_count.minimum, max_capacity=task_count.maximum
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=CPU_TARGET_PERCENT,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )

    def _shift_traffic(
        self, vpc: ec2.IVpc, endpoints: HttpEndpoints, listener: elbv2.ApplicationListener
    ) -> None:
        """A second target group and the production rule whose weights ECS moves between the
        two: a release's new tasks register in whichever group holds none of the traffic.
        The rule matches every path, so the listener's own action is never reached."""
        alternate = self._target_group("AlternateTargetGroup", vpc, endpoints)
        self.target_groups.append(alternate)
        production_rule = elbv2.ApplicationListenerRule(
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
        role = self._deployment_role(listener, production_rule, alternate)
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
                    "ContainerPort": endpoints.port,
                    "TargetGroupArn": self.target_group.target_group_arn,
                    "AdvancedConfiguration": {
                        "AlternateTargetGroupArn": alternate.target_group_arn,
                        "ProductionListenerRule": production_rule.listener_rule_arn,
                        "RoleArn": role.role_arn,
                    },
                }
            ],
        )

    def _target_group(
        self, construct_id: str, vpc: ec2.IVpc, endpoints: HttpEndpoints
    ) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            self,
            construct_id,
            vpc=vpc,
            port=endpoints.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(30),
            # Liveness: answers while the process serves HTTP, without touching PostgreSQL
            # or Redis, so an outage of either never takes every task out at once.
            health_check=elbv2.HealthCheck(
                path=endpoints.health_check_path,
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )

    def _deployment_role(
        self,
        listener: elbv2.ApplicationListener,
        production_rule: elbv2.ApplicationListenerRule,
        alternate: elbv2.ApplicationTargetGroup,
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
                resources=[production_rule.listener_rule_arn, listener.listener_arn],
            )
        )
        policy = role.node.find_child("DefaultPolicy")
        acknowledge(policy, TRAFFIC_SHIFT_DESCRIBES)
        # ECS checks the role's permissions when the service is created or updated.
        self.service.node.add_dependency(policy)
        return role


def _http_environment(endpoints: HttpEndpoints, cpu: int) -> Mapping[str, str]:
    """What the sample's HTTP server reads beside the stores' settings."""
    return {
        "PORT": str(endpoints.port),
        "HEALTH_CHECK_PATH": endpoints.health_check_path,
        "READINESS_PATH": endpoints.readiness_path,
        # One server process per vCPU: one Python process serves on one core only.
        "WEB_CONCURRENCY": str(max(1, cpu // 1024)),
    }
