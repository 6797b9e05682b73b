"""Alarms for what a user of the service would notice first, and for what comes before it:
errors and latency, tasks that fail or go missing, a database or cache running out of CPU,
memory, connections or storage, a dependency the tasks cannot reach, and a secret rollout
that failed. They notify one SNS topic (encrypted, TLS-only), to which the on-call address is
subscribed when one was given (README: "Alarms").

Two of them are deployment alarms: ECS watches them during every release and rolls it back
when one fires. They measure each target group on its own, so a canary that fails on a tenth
of the traffic still crosses the threshold. Thresholds come from the sizing (``sizing.py``).
"""

from collections.abc import Callable

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .config import EnvironmentConfig, ServiceConfig
from .datastore import Cache, Database

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
GREATER_OR_EQUAL = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
LESS_THAN = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
# A 5xx rate needs this many errors in a minute before it counts: one failed request out of
# three is not a failed release.
DEPLOYMENT_MIN_ERRORS = 5
# The sample service's log contract (service/README.md): one line per failed check.
DEPENDENCY_CHECK_FAILED = '{ $.event = "dependency_check_failed" }'
DEPENDENCIES = ("postgres", "redis")
# Its checks run every 30 seconds: three failures in five minutes are a minute and a half.
DEPENDENCY_FAILURES = 3
# The migration container's line when a revision fails (service/README.md, "Schema migrations").
MIGRATION_FAILED = '{ $.event = "migration_failed" }'


class ServiceAlarms(Construct):
    """CloudWatch alarms on the load balancer, the service, the database, the cache and the
    secret rollout, to one topic; ``deployment_alarms`` are for ECS to roll back on."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service_config: ServiceConfig,
        environment: EnvironmentConfig,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_groups: list[elbv2.ApplicationTargetGroup],
        service: ecs.FargateService,
        app_log_group: logs.ILogGroup,
        database: Database,
        cache: Cache,
        secret_rollout: sfn.StateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        thresholds = environment.sizing.alarms
        self.topic = self._topic()
        if service_config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(service_config.alarm_email))
        self._action = cloudwatch_actions.SnsAction(self.topic)

        # Releases: ECS rolls back when either fires (compute.py enables them by name). Fixed
        # names: ECS reads the names, and a generated one would make the service depend on
        # its own alarms' references.
        deployment = service_config.resource_name(environment, "deployment")
        self.deployment_alarm_names = [f"{deployment}-5xx-rate", f"{deployment}-unhealthy-targets"]
        self.deployment_alarms = [
            self._alarm(
                "DeploymentTargetErrorRate",
                _per_target_group(
                    target_groups,
                    lambda group, i: {
                        f"errors{i}": group.metrics.http_code_target(
                            elbv2.HttpCodeTarget.TARGET_5XX_COUNT,
                            period=ONE_MINUTE,
                            statistic="Sum",
                        ),
                        f"requests{i}": group.metrics.request_count(
                            period=ONE_MINUTE, statistic="Sum"
                        ),
                    },
                    lambda i: (
                        f"IF(FILL(errors{i}, 0) >= {DEPLOYMENT_MIN_ERRORS}, "
                        f"100 * FILL(errors{i}, 0) / requests{i}, 0)"
                    ),
                    label="5xx % of the worst target group",
                    period=ONE_MINUTE,
                ),
                thresholds.service_5xx_percent,
                periods=2,
                alarm_name=self.deployment_alarm_names[0],
                description=(
                    f"A target group answered {thresholds.service_5xx_percent}% or more of its "
                    "requests with 5xx for 2 minutes (a release in progress rolls back)."
                ),
            ),
            self._alarm(
                "DeploymentUnhealthyTargets",
                _unhealthy_targets(
                    target_groups, ONE_MINUTE, "unhealthy targets of the worst target group"
                ),
                1,
                periods=2,
                alarm_name=self.deployment_alarm_names[1],
                description=(
                    "A target failed its health checks for 2 minutes (a release in progress "
                    "rolls back)."
                ),
            ),
        ]

        # The service, as its users see it.
        metrics = load_balancer.metrics
        self._alarm(
            "TargetErrors",
            metrics.http_code_target(
                elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
            ),
            10,
            description="The service answered 10 or more requests with 5xx in 5 minutes.",
        )
        self._alarm(
            "LoadBalancerErrors",
            metrics.http_code_elb(
                elbv2.HttpCodeElb.ELB_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
            ),
            10,
            description="The load balancer answered 10 or more requests with 5xx in 5 minutes.",
        )
        self._alarm(
            "LatencyP99",
            metrics.target_response_time(period=FIVE_MINUTES, statistic="p99"),
            thresholds.service_latency_p99_seconds,
            periods=3,
            description=(
                f"The slowest 1% of requests took {thresholds.service_latency_p99_seconds} s "
                "or more for 15 minutes."
            ),
        )
        self._alarm(
            "UnhealthyTasks",
            _unhealthy_targets(target_groups, FIVE_MINUTES, "unhealthy targets"),
            1,
            periods=2,
            description="At least one task failed its health check for 10 minutes.",
        )
        insights = {
            "ClusterName": service.cluster.cluster_name,
            "ServiceName": service.service_name,
        }
        self._alarm(
            "TasksBelowDesired",
            cloudwatch.MathExpression(
                expression="FILL(desired, 0) - FILL(running, 0)",
                using_metrics={
                    name: cloudwatch.Metric(
                        namespace="ECS/ContainerInsights",
                        metric_name=metric,
                        dimensions_map=insights,
                        period=FIVE_MINUTES,
                        statistic="Minimum" if name == "running" else "Maximum",
                    )
                    for name, metric in (
                        ("desired", "DesiredTaskCount"),
                        ("running", "RunningTaskCount"),
                    )
                },
                label="tasks missing",
                period=FIVE_MINUTES,
            ),
            1,
            periods=2,
            description="Fewer tasks ran than the service wants, for 10 minutes.",
        )
        self._alarm(
            "ServiceCpu",
            service.metric_cpu_utilization(period=FIVE_MINUTES),
            90,
            periods=3,
            description="The tasks ran above 90% CPU for 15 minutes (at the autoscaling ceiling?).",
        )
        self._dependency_alarms(service_config, environment, app_log_group)
        self._migration_alarm(service_config, environment, app_log_group)

        # PostgreSQL.
        instance = database.instance
        self._alarm(
            "DatabaseCpu",
            instance.metric_cpu_utilization(period=FIVE_MINUTES),
            thresholds.database_cpu_percent,
            periods=3,
            description=(
                f"The database ran above {thresholds.database_cpu_percent}% CPU for 15 minutes."
            ),
        )
        self._alarm(
            "DatabaseMemory",
            instance.metric_freeable_memory(period=FIVE_MINUTES, statistic="Minimum"),
            thresholds.database_free_memory_bytes,
            periods=3,
            comparison=LESS_THAN,
            description="The database had less than a tenth of its memory free for 15 minutes.",
        )
        self._alarm(
            "DatabaseConnections",
            instance.metric_database_connections(period=FIVE_MINUTES, statistic="Maximum"),
            thresholds.database_connections,
            periods=2,
            description=(
                f"The database held {thresholds.database_connections} connections or more "
                "(80% of its maximum) for 10 minutes."
            ),
        )
        self._alarm(
            "DatabaseStorage",
            instance.metric_free_storage_space(period=FIVE_MINUTES, statistic="Minimum"),
            thresholds.database_free_storage_bytes,
            comparison=LESS_THAN,
            description="The database has less than a tenth of its first storage free.",
        )

        # Redis: every node of the replication group, the worst one counts.
        nodes = [
            f"{cache.replication_group.ref}-{number:03d}"
            for number in range(1, 2 + environment.sizing.cache_replicas)
        ]
        self._alarm(
            "CacheCpu",
            _cache_metric(nodes, "EngineCPUUtilization", "Maximum", "MAX"),
            thresholds.cache_cpu_percent,
            periods=3,
            description=(
                f"Redis ran above {thresholds.cache_cpu_percent}% engine CPU for 15 minutes."
            ),
        )
        self._alarm(
            "CacheMemory",
            _cache_metric(nodes, "DatabaseMemoryUsagePercentage", "Maximum", "MAX"),
            thresholds.cache_memory_percent,
            periods=3,
            description=(
                f"Redis used more than {thresholds.cache_memory_percent}% of its memory for "
                "15 minutes."
            ),
        )
        self._alarm(
            "CacheEvictions",
            _cache_metric(nodes, "Evictions", "Sum", "SUM"),
            thresholds.cache_evictions,
            description="Redis evicted keys to make room (sessions or jobs may be lost).",
        )
        if environment.sizing.cache_replicas:
            self._alarm(
                "CacheReplicationLag",
                _cache_metric(nodes, "ReplicationLag", "Maximum", "MAX"),
                thresholds.cache_replication_lag_seconds,
                periods=3,
                description=(
                    f"A Redis replica lagged {thresholds.cache_replication_lag_seconds} s or "
                    "more behind the primary for 15 minutes (a failover would lose writes)."
                ),
            )

        # The secret rollout: a rotated secret whose tasks did not roll.
        self._alarm(
            "SecretRolloutFailed",
            cloudwatch.MathExpression(
                expression="FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)",
                using_metrics={
                    "failed": secret_rollout.metric_failed(period=FIVE_MINUTES),
                    "timedout": secret_rollout.metric_timed_out(period=FIVE_MINUTES),
                    "aborted": secret_rollout.metric_aborted(period=FIVE_MINUTES),
                },
                label="rollouts that did not finish",
                period=FIVE_MINUTES,
            ),
            1,
            description=(
                "Rolling the tasks after a secret changed failed: they may hold a credential "
                "that no longer works (README: Runbook, restart the tasks)."
            ),
        )

    def _topic(self) -> sns.Topic:
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
        topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        # The topic policy replaces SNS's default one: CloudWatch must be let in explicitly,
        # and only for this account's alarms.
        stack = Stack.of(self)
        alarms_of_this_account = f"arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms_of_this_account},
                },
            )
        )
        return topic

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        *,
        periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = GREATER_OR_EQUAL,
        description: str,
        alarm_name: str | None = None,
    ) -> cloudwatch.Alarm:
        created = cloudwatch.Alarm(
            self,
            name,
            alarm_name=alarm_name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        created.add_alarm_action(self._action)
        created.add_ok_action(self._action)
        return created

    def _dependency_alarms(
        self,
        service_config: ServiceConfig,
        environment: EnvironmentConfig,
        app_log_group: logs.ILogGroup,
    ) -> None:
        """The service's own checks of PostgreSQL and Redis, counted from its log lines.
        Liveness never fails for them (the load balancer must not drop every task because a
        dependency is down), so this is where such an outage shows."""
        namespace = service_config.metric_namespace(environment)
        logs.MetricFilter(
            self,
            "DependencyCheckFailed",
            log_group=app_log_group,
            filter_pattern=logs.FilterPattern.literal(DEPENDENCY_CHECK_FAILED),
            metric_namespace=namespace,
            metric_name="DependencyCheckFailed",
            metric_value="1",
            dimensions={"Dependency": "$.dependency"},
        )
        for dependency in DEPENDENCIES:
            self._alarm(
                f"DependencyCheckFailed{dependency.capitalize()}",
                cloudwatch.Metric(
                    namespace=namespace,
                    metric_name="DependencyCheckFailed",
                    dimensions_map={"Dependency": dependency},
                    period=FIVE_MINUTES,
                    statistic="Sum",
                ),
                DEPENDENCY_FAILURES,
                description=(
                    f"The tasks failed to reach {dependency} {DEPENDENCY_FAILURES} times or more "
                    "in 5 minutes (their own background checks)."
                ),
            )

    def _migration_alarm(
        self,
        service_config: ServiceConfig,
        environment: EnvironmentConfig,
        app_log_group: logs.ILogGroup,
    ) -> None:
        """A schema migration that failed: the release stops and rolls back by itself, and
        this says why, before anyone reads the deploy job's log."""
        namespace = service_config.metric_namespace(environment)
        logs.MetricFilter(
            self,
            "MigrationFailedFilter",
            log_group=app_log_group,
            filter_pattern=logs.FilterPattern.literal(MIGRATION_FAILED),
            metric_namespace=namespace,
            metric_name="MigrationFailed",
            metric_value="1",
        )
        self._alarm(
            "MigrationFailed",
            cloudwatch.Metric(
                namespace=namespace,
                metric_name="MigrationFailed",
                period=FIVE_MINUTES,
                statistic="Sum",
            ),
            1,
            description=(
                "A schema migration failed and the release is rolling back; the previous "
                "release keeps serving (README: Runbook, a migration fails)."
            ),
        )


def _per_target_group(
    target_groups: list[elbv2.ApplicationTargetGroup],
    metrics_of: Callable[[elbv2.ApplicationTargetGroup, int], dict[str, cloudwatch.IMetric]],
    value_of: Callable[[int], str],
    *,
    label: str,
    period: Duration,
) -> cloudwatch.MathExpression:
    """One series per target group (a release's new tasks sit in the second one while it
    shifts traffic), combined into the worst of them."""
    using: dict[str, cloudwatch.IMetric] = {}
    values = []
    for index, group in enumerate(target_groups):
        using.update(metrics_of(group, index))
        values.append(value_of(index))
    expression = values[0] if len(values) == 1 else f"MAX([{', '.join(values)}])"
    return cloudwatch.MathExpression(
        expression=expression, using_metrics=using, label=label, period=period
    )


def _unhealthy_targets(
    target_groups: list[elbv2.ApplicationTargetGroup], period: Duration, label: str
) -> cloudwatch.MathExpression:
    """The most unhealthy targets in any target group over the period."""
    return _per_target_group(
        target_groups,
        lambda group, i: {
            f"unhealthy{i}": group.metrics.unhealthy_host_count(period=period, statistic="Maximum")
        },
        lambda i: f"FILL(unhealthy{i}, 0)",
        label=label,
        period=period,
    )


def _cache_metric(
    nodes: list[str], metric_name: str, statistic: str, combine: str
) -> cloudwatch.MathExpression:
    """One ElastiCache metric over every node, combined (MAX or SUM) into one series."""
    using = {
        f"node{index}": cloudwatch.Metric(
            namespace="AWS/ElastiCache",
            metric_name=metric_name,
            dimensions_map={"CacheClusterId": node, "CacheNodeId": "0001"},
            period=FIVE_MINUTES,
            statistic=statistic,
        )
        for index, node in enumerate(nodes)
    }
    names = ", ".join(f"FILL({name}, 0)" for name in using)
    return cloudwatch.MathExpression(
        expression=f"{combine}([{names}])",
        using_metrics=using,
        label=f"{metric_name} ({combine.lower()} over the nodes)",
        period=FIVE_MINUTES,
    )
