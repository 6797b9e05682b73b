"""The only public entry point of the API: an Application Load Balancer in the public
subnets, HTTPS when a domain is given (HTTP then redirects), with access logs in an encrypted,
TLS-only bucket."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ..acknowledgements import ACCESS_LOG_BUCKET
from ..config import DomainConfig, Port80Listener
from ..policy import acknowledge

ACCESS_LOG_EXPIRY = Duration.days(365)


class LoadBalancer(Construct):
    """The only public entry point: an ALB in the public subnets, HTTPS when a domain is
    given (HTTP then redirects), with access logs in an encrypted, TLS-only bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        load_balancer_name: str,
        domain: DomainConfig | None,
        port_80_listener_id: Port80Listener,
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
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
        )
        self.alb.log_access_logs(self.access_logs, prefix="alb")

        # The port-80 listener's id is the environment's (config.EnvironmentConfig): a domain
        # added or removed changes what it does, never which resource it is.
        if domain is None:
            self.listener = self.alb.add_listener(
                port_80_listener_id, port=80, protocol=elbv2.ApplicationProtocol.HTTP, open=False
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
        # What ApplicationLoadBalancer.add_redirect builds, under the environment's id.
        self.alb.add_listener(
            port_80_listener_id,
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.redirect(
                protocol="HTTPS", port="443", permanent=True
            ),
        )
        route53.ARecord(
            self,
            "AliasRecord",
            zone=zone,
            record_name=domain.domain_name,
            target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self.alb)),
        )
