"""Alarms for what a user of the service would notice first: errors, unhealthy or saturated
tasks, and a database running out of CPU or storage. They notify one SNS topic (encrypted,
TLS-only); subscribe the on-call rotation to it (README: "Alarms")."""

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)
# Below this, a database's storage autoscaling is about to be its only defence.
DATABASE_FREE_STORAGE_BYTES = 2 * 1024**3


class ServiceAlarms(Construct):
    """CloudWatch alarms on the load balancer, the service and the database, to one topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        service: ecs.FargateService,
        database: rds.DatabaseInstance,
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "TopicKey",
            description=f"{Stack.of(self).stack_name}: alarm notifications",
            enable_key_rotation=True,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic.
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        # The topic policy replaces SNS's default one: CloudWatch must be let in explicitly,
        # and only for this account's alarms.
        stack = Stack.of(self)
        alarms_of_this_account = f"arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms_of_this_account},
                },
            )
        )
        action = cloudwatch_actions.SnsAction(self.topic)

        def alarm(
            name: str,
            metric: cloudwatch.IMetric,
            threshold: float,
            *,
            periods: int = 1,
            comparison: cloudwatch.ComparisonOperator = (
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            description: str,
        ) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=comparison,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)

        metrics = load_balancer.metrics
        alarm(
            "TargetErrors",
            metrics.http_code_target(
                elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
            ),
            10,
            description="The service answered 10 or more requests with 5xx in 5 minutes.",
        )
        alarm(
            "LoadBalancerErrors",
            metrics.http_code_elb(
                elbv2.HttpCodeElb.ELB_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
            ),
            10,
            description="The load balancer answered 10 or more requests with 5xx in 5 minutes.",
        )
        alarm(
            "UnhealthyTasks",
            target_group.metrics.unhealthy_host_count(period=FIVE_MINUTES, statistic="Maximum"),
            1,
            periods=2,
            description="At least one task failed its health check for 10 minutes.",
        )
        alarm(
            "ServiceCpu",
            service.metric_cpu_utilization(period=FIVE_MINUTES),
            90,
            periods=3,
            description="The tasks ran above 90% CPU for 15 minutes (at the autoscaling ceiling?).",
        )
        alarm(
            "DatabaseCpu",
            database.metric_cpu_utilization(period=FIVE_MINUTES),
            90,
            periods=3,
            description="The database ran above 90% CPU for 15 minutes.",
        )
        alarm(
            "DatabaseStorage",
            database.metric_free_storage_space(period=FIVE_MINUTES),
            DATABASE_FREE_STORAGE_BYTES,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="The database has less than 2 GiB of free storage.",
        )
