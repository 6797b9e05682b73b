"""Phase 3, network isolation: only the load balancer faces the internet.

Public subnets hold the load balancer and the NAT gateways; the service runs in private
subnets with egress through NAT; the database and cache live in isolated subnets with no
route out. Security groups chain load balancer -> service -> database / cache, each on its
own port alone.
"""

import jsii
from aws_cdk import CfnResource, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from .acknowledgements import EXPLICIT_AVAILABILITY_ZONES, PUBLIC_LOAD_BALANCER
from .config import EnvironmentConfig, ServiceConfig
from .log_groups import retained_log_group
from .phase import PhaseSettings, PhaseStack
from .policy import acknowledge

VPC_CIDR = "10.0.0.0/16"
# Address plans: each subnet's range depends on its tier and its zone's place in the region's
# zone list, never on how many zones the sizing uses. Changing the sizing (or adding a zone)
# adds subnets; it never renumbers one, which would replace it and the database, cache and
# tasks inside. Ranges are part of the template's compatibility promise: never change one.
ADDRESS_PLANS: dict[str, dict[str, tuple[str, ...]]] = {
    # Every service from 1.0.0 on. Its first two zones keep the ranges CDK gave two-zone
    # (small) environments before 1.0.0, every non-production one among them.
    "fixed": {
        "Public": ("10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"),
        "Private": ("10.0.16.0/20", "10.0.32.0/20", "10.0.64.0/20"),
        "Isolated": ("10.0.48.0/24", "10.0.49.0/24", "10.0.50.0/24"),
    },
    # Medium and large production environments rendered before 1.0.0: the ranges CDK gave
    # their three zones then, kept so that their subnets stay where they are.
    "three-zones-before-1.0": {
        "Public": ("10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"),
        "Private": ("10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20"),
        "Isolated": ("10.0.64.0/24", "10.0.65.0/24", "10.0.66.0/24"),
    },
}


@jsii.implements(ec2.IIpAddresses)
class FixedAddressPlan:
    """Gives each subnet its range from an address plan (CDK's default packs them in order,
    so a third zone would move every range after the first tier)."""

    def __init__(self, plan: dict[str, tuple[str, ...]], region_zones: tuple[str, ...]) -> None:
        self._plan = plan
        self._region_zones = region_zones

    def allocate_vpc_cidr(self) -> ec2.VpcIpamOptions:
        return ec2.VpcIpamOptions(cidr_block=VPC_CIDR)

    def allocate_subnets_cidr(self, input: ec2.AllocateCidrRequest) -> ec2.SubnetIpamOptions:
        return ec2.SubnetIpamOptions(
            allocated_subnets=[
                ec2.AllocatedSubnet(
                    cidr=self._plan[subnet.configuration.name][
                        self._region_zones.index(subnet.availability_zone)
                    ]
                )
                for subnet in input.requested_subnets
            ]
        )


def _drop_duplicate_dependency_of_default_security_group_handler(stack: Stack) -> None:
    """CDK's handler that strips the VPC's default security group both reads its role's ARN
    and declares DependsOn on it; cfn-lint rightly calls the second redundant (W3005)."""
    provider = stack.node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    handler = provider.node.find_child("Handler")
    role = provider.node.find_child("Role")
    assert isinstance(handler, CfnResource) and isinstance(role, CfnResource)
    handler.remove_resource_dependency(role)


class Network(Construct):
    """The VPC, its flow logs, and the security groups of each tier."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        availability_zones: tuple[str, ...],
        region_zones: tuple[str, ...],
        address_plan: str,
        nat_gateways: int,
        log_retention: logs.RetentionDays,
        container_port: int,
        database_port: int,
        cache_port: int,
        public_subnets_assign_public_ips: bool = True,
        public_entry: bool = True,
        cache_token_rotation: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            # jsii implements the interface by name: its Python signature names the request's
            # fields as keywords, the runtime passes the request itself (a real gap of jsii).
            ip_addresses=FixedAddressPlan(  # type: ignore[arg-type]
                ADDRESS_PLANS[address_plan], region_zones
            ),
            availability_zones=list(availability_zones),
            nat_gateways=min(nat_gateways, len(availability_zones)),
            # Strip the default security group's rules: nothing may use it by accident.
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    # Only the load balancer (addresses of its own) and the NAT gateways
                    # (Elastic IPs) live here: nothing needs an address at launch. False is
                    # what the compliance packs ask; MapPublicIpOnLaunch is no create-only
                    # property of AWS::EC2::Subnet, so the subnets are updated in place.
                    map_public_ip_on_launch=None if public_subnets_assign_public_ips else False,
                ),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
        )
        acknowledge(self.vpc, EXPLICIT_AVAILABILITY_ZONES)
        _drop_duplicate_dependency_of_default_security_group_handler(Stack.of(self))
        flow_log_group = retained_log_group(
            self,
            "FlowLogs",
            retention=log_retention,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        # Only a service with an API has a load balancer (and so a way in from the internet).
        self.load_balancer_security_group = (
            ec2.SecurityGroup(
                self,
                "LoadBalancerSecurityGroup",
                vpc=self.vpc,
                description="Internet-facing load balancer: HTTP and HTTPS from anywhere",
                allow_all_outbound=False,
            )
            if public_entry
            else None
        )
        self.service_security_group = ec2.SecurityGroup(
            self,
            "ServiceSecurityGroup",
            vpc=self.vpc,
            description="Service tasks: the container port from the load balancer only",
            # Tasks pull images, read secrets and write logs through the NAT gateways.
            allow_all_outbound=True,
        )
        self.database_security_group = ec2.SecurityGroup(
            self,
            "DatabaseSecurityGroup",
            vpc=self.vpc,
            description="PostgreSQL: its port from the service only",
            allow_all_outbound=False,
        )
        self.cache_security_group = ec2.SecurityGroup(
            self,
            "CacheSecurityGroup",
            vpc=self.vpc,
            description="Redis: its port from the service only",
            allow_all_outbound=False,
        )

        # The Lambda that rotates the database password: to PostgreSQL, and out to Secrets Manager.
        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=self.vpc,
            description="Database credential rotation: to PostgreSQL and Secrets Manager",
            allow_all_outbound=True,
        )

        if self.load_balancer_security_group is not None:
            self._open_to_the_internet(self.load_balancer_security_group, container_port)
        self.database_security_group.connections.allow_from(
            self.service_security_group, ec2.Port.tcp(database_port), "Service to PostgreSQL"
        )
        self.database_security_group.connections.allow_from(
            self.rotation_security_group, ec2.Port.tcp(database_port), "Rotation to PostgreSQL"
        )
        self.cache_security_group.connections.allow_from(
            self.service_security_group, ec2.Port.tcp(cache_port), "Service to Redis"
        )
        # The Lambda that rotates the Redis AUTH token: to Redis, and out to the Secrets
        # Manager and ElastiCache APIs (HTTPS, through the NAT gateways). Only where it exists.
        self.cache_rotation_security_group: ec2.SecurityGroup | None = None
        if cache_token_rotation:
            self.cache_rotation_security_group = ec2.SecurityGroup(
                self,
                "CacheRotationSecurityGroup",
                vpc=self.vpc,
                description="Redis AUTH token rotation: to Redis and the AWS APIs (HTTPS)",
                allow_all_outbound=False,
            )
            self.cache_rotation_security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Secrets Manager and ElastiCache APIs"
            )
            self.cache_rotation_security_group.connections.allow_to(
                self.cache_security_group, ec2.Port.tcp(cache_port), "Rotation to Redis"
            )

    def _open_to_the_internet(
        self, load_balancer_security_group: ec2.SecurityGroup, container_port: int
    ) -> None:
        """The load balancer takes HTTP(S) from anywhere and reaches the tasks' port."""
        for port in (80, 443):
            load_balancer_security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(port), f"Internet to the load balancer ({port})"
            )
        acknowledge(load_balancer_security_group, PUBLIC_LOAD_BALANCER)
        self.service_security_group.connections.allow_from(
            load_balancer_security_group,
            ec2.Port.tcp(container_port),
            "Load balancer to the service",
        )


class NetworkStack(PhaseStack):
    """Phase 3: the network every later stack is placed in."""

    @property
    def availability_zones(self) -> list[str]:
        """The configured zones; the default would look them up in the account at synth."""
        return self._availability_zones

    def __init__(
        self,
        scope: Construct,
        *,
        phase: PhaseSettings,
        service: ServiceConfig,
        environment: EnvironmentConfig,
    ) -> None:
        # Set before any construct asks: the zones come from the configuration, not AWS.
        self._availability_zones = list(environment.availability_zones)
        super().__init__(scope, phase=phase)
        self.network = Network(
            self,
            "Network",
            availability_zones=environment.availability_zones,
            region_zones=environment.region_zones,
            address_plan=environment.address_plan,
            nat_gateways=environment.sizing.nat_gateways,
            log_retention=environment.log_retention,
            container_port=service.container_port,
            database_port=service.database_port,
            cache_port=service.cache_port,
            public_subnets_assign_public_ips=not service.has_compliance_packs,
            public_entry=service.runs("api"),
            cache_token_rotation=service.cache_token_rotation,
        )
