"""The ECS cluster every workload of the service runs in: its capacity (Fargate, or Fargate
Spot outside production) and, when operators may open shells, the encrypted and logged ECS
Exec sessions."""

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..log_groups import retained_log_group

# A Spot environment runs every task on Fargate Spot, with no on-demand base: dev and staging
# run one or two small tasks, so a base of one would keep the only task on demand and save
# nothing, while an interruption costs a non-production environment a few minutes.
FARGATE_SPOT_ONLY = (ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1),)


@dataclass(frozen=True, kw_only=True)
class ExecSessions:
    """Where ECS Exec sessions are encrypted and logged: each workload's task role gets
    exactly these two, beside the channels CDK grants."""

    key: kms.IKey
    log_group: logs.ILogGroup


class ComputeCluster(Construct):
    """The cluster, its Fargate capacity providers when Spot is used, and the ECS Exec
    session settings when operators may open shells."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        fargate_spot: bool,
        exec_log_retention: logs.RetentionDays | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENHANCED
        )
        self._capacity_providers = self._fargate_capacity_providers() if fargate_spot else None
        self.exec_sessions = (
            None if exec_log_retention is None else self._exec_sessions(exec_log_retention)
        )

    @property
    def capacity_provider_strategies(self) -> list[ecs.CapacityProviderStrategy] | None:
        """What a service of this cluster runs on: Fargate Spot, or None for the launch type
        (on-demand Fargate). With a strategy CDK writes no LaunchType: CloudFormation updates
        a service in place between the two (neither property is create-only)."""
        return None if self._capacity_providers is None else list(FARGATE_SPOT_ONLY)

    def place(self, service: Construct) -> None:
        """Order ``service`` (or a schedule that runs tasks) after the capacity providers it
        names, if any."""
        if self._capacity_providers is not None:
            service.node.add_dependency(self._capacity_providers)

    def _fargate_capacity_providers(self) -> ecs.CfnClusterCapacityProviderAssociations:
        """Fargate's capacity providers on the cluster, associated before a service uses
        them: CDK's own association (enable_fargate_capacity_providers) is added after
        construction with no dependency, and ECS refuses a strategy naming a provider the
        cluster does not have yet (aws/containers-roadmap#631)."""
        return ecs.CfnClusterCapacityProviderAssociations(
            self,
            "CapacityProviders",
            cluster=self.cluster.cluster_name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategy=[],
        )

    def _exec_sessions(self, retention: logs.RetentionDays) -> ExecSessions:
        """ECS Exec sessions encrypted with their own key and logged to their own group. The
        cluster's setting is written here, not through CDK's property, so that task roles get
        exactly the documented permissions (``WorkloadTask``)."""
        key = kms.Key(
            self,
            "ExecSessionKey",
            description=f"{Stack.of(self).stack_name}: ECS Exec sessions",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_group = retained_log_group(self, "ExecLogs", retention=retention)
        cluster = self.cluster.node.default_child
        assert isinstance(cluster, ecs.CfnCluster)
        cluster.configuration = ecs.CfnCluster.ClusterConfigurationProperty(
            execute_command_configuration=ecs.CfnCluster.ExecuteCommandConfigurationProperty(
                kms_key_id=key.key_arn,
                logging="OVERRIDE",
                log_configuration=ecs.CfnCluster.ExecuteCommandLogConfigurationProperty(
                    cloud_watch_log_group_name=log_group.log_group_name,
                    cloud_watch_encryption_enabled=True,
                ),
            )
        )
        return ExecSessions(key=key, log_group=log_group)
