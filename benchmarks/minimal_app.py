"""The floor the rendered app's synth is measured against: a minimal CDK app of the same four
stacks per environment, as a team would hand-write it without the template (no cdk-nag, no
alarms, no WAF, no rotation): an OIDC provider and a deploy role; a VPC with public, private
and isolated subnets; PostgreSQL and Redis; a Fargate service behind a load balancer, built
from the rendered project's own `service/`.

Run inside a rendered project (its environment, its `service/`), as the benchmark does:
`python minimal_app.py <environments>`.
"""

from __future__ import annotations

import sys

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from constructs import Construct

ZONES = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]


class IdentityStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, env: Environment) -> None:
        super().__init__(scope, construct_id, env=env)
        provider = iam.OpenIdConnectProvider(
            self,
            "Github",
            url="https://token.actions.githubusercontent.com",
            client_ids=["sts.amazonaws.com"],
        )
        iam.Role(
            self,
            "Deploy",
            assumed_by=iam.OpenIdConnectPrincipal(provider).with_conditions(
                {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}}
            ),
        )


class NetworkStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, env: Environment) -> None:
        super().__init__(scope, construct_id, env=env)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            availability_zones=ZONES,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
        )


class DatastoreStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, env: Environment, vpc: ec2.IVpc
    ) -> None:
        super().__init__(scope, construct_id, env=env)
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.database = rds.DatabaseInstance(
            self,
            "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_6),
            vpc=vpc,
            vpc_subnets=isolated,
            multi_az=True,
        )
        subnets = elasticache.CfnSubnetGroup(
            self,
            "CacheSubnets",
            description="cache",
            subnet_ids=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
        )
        elasticache.CfnReplicationGroup(
            self,
            "Cache",
            replication_group_description="cache",
            engine="redis",
            cache_node_type="cache.t4g.micro",
            num_cache_clusters=2,
            cache_subnet_group_name=subnets.ref,
        )


class ComputeStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, env: Environment, vpc: ec2.IVpc
    ) -> None:
        super().__init__(scope, construct_id, env=env)
        ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "Service",
            vpc=vpc,
            task_image_options=ecs_patterns.ApplicationLoadBalancedTaskImageOptions(
                image=ecs.ContainerImage.from_asset("service"), container_port=8080
            ),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )


def main(environments: list[str]) -> None:
    app = App()
    for name in environments:
        env = Environment(account="123456789012", region="ap-northeast-1")
        IdentityStack(app, f"Minimal-{name}-Identity", env=env)
        network = NetworkStack(app, f"Minimal-{name}-Network", env=env)
        DatastoreStack(app, f"Minimal-{name}-Datastore", env=env, vpc=network.vpc)
        ComputeStack(app, f"Minimal-{name}-Compute", env=env, vpc=network.vpc)
    app.synth()


if __name__ == "__main__":
    main(sys.argv[1:])
