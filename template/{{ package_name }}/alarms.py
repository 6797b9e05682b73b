"""Alarms for what a user of the service would notice first, and for what comes before it:
errors and latency, tasks that fail or go missing, a database or cache running out of CPU,
memory, connections or storage, a dependency the tasks cannot reach, a schema migration or a
secret rollout that failed. They notify one SNS topic (encrypted, TLS-only), to which the
on-call address is subscribed when one was given (README: "Alarms").

Two of them are deployment alarms: ECS watches them during every release and rolls it back
when one fires. They measure each target group on its own, so a canary that fails on a tenth
of the traffic still crosses the threshold. Thresholds come from the sizing (``sizing.py``),
and every description is written from the numbers the alarm uses.

With a worker, its queue is watched (dead letters, the oldest message's age) and its failed
messages roll a release back; a scheduled job that stops with an error reaches the topic
through an EventBridge rule on ECS's task events.

One construct (``AlarmTopic``) holds the topic and every alarm; ``AlarmFactory`` makes one
alarm that notifies it; one function per watched resource adds that resource's alarms.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .sizing import AlarmThresholds

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
GREATER_OR_EQUAL = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
LESS_THAN = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
# A 5xx rate needs this many errors in a minute before it counts: one failed request out of
# three is not a failed release.
DEPLOYMENT_MIN_ERRORS = 5
# 5xx answers in five minutes, from the service or from the load balancer itself.
ERRORS_IN_FIVE_MINUTES = 10
# The tasks' CPU at the autoscaling ceiling (autoscaling aims at 60 %).
SERVICE_CPU_PERCENT = 90
# The sample service's log contract (service/README.md): one line per failed check.
DEPENDENCY_CHECK_FAILED = '{ $.event = "dependency_check_failed" }'
DEPENDENCIES = ("postgres", "redis")
# Its checks run every 30 seconds: three failures in five minutes are a minute and a half.
DEPENDENCY_FAILURES = 3
# The migration container's line when a revision fails (service/README.md, "Schema migrations").
MIGRATION_FAILED = '{ $.event = "migration_failed" }'
# The worker's line for a message its code failed on (service/README.md, "Worker"). A message
# that can never succeed (reason "invalid") is the message's problem, not the release's: it is
# released at once and received again until the queue dead-letters it, one line per receive.
MESSAGE_FAILED = '{ $.event = "message_failed" && $.reason = "error" }'
# Failed messages in a minute before a minute counts against a release: five are the code's.
WORKER_DEPLOYMENT_MIN_FAILURES = 5
# A worker process that stopped because it could not run: bad configuration, or a queue it
# could not read (service/README.md, "Worker": exit statuses 2 and 1). Such a task has
# reached RUNNING before it stops, which need not count against ECS's circuit breaker.
WORKER_EXITED = (
    '{ $.event = "startup_failed" || ($.event = "worker_stopped" && $.exit_status = 1) }'
)
# Workers that stopped so within five minutes: two are a release that cannot run.
WORKER_DEPLOYMENT_MIN_EXITS = 2


def sustained(periods: int, period: Duration) -> str:
    """'for 15 minutes': how long a condition must last, in words, from the alarm's own
    evaluation periods."""
    minutes = periods * int(period.to_minutes())
    return f"for {minutes} minute{'s' if minutes != 1 else ''}"


def count_log_lines(
    scope: Construct,
    construct_id: str,
    log_group: logs.ILogGroup,
    pattern: str,
    *,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, str] | None = None,
) -> None:
    """A CloudWatch metric of ``log_group``'s lines that match the JSON filter ``pattern``:
    1 for each line (the sample service's log contract, service/README.md)."""
    logs.MetricFilter(
        scope,
        construct_id,
        log_group=log_group,
        filter_pattern=logs.FilterPattern.literal(pattern),
        metric_namespace=namespace,
        metric_name=metric_name,
        metric_value="1",
        dimensions=dimensions,
    )


class AlarmTopic(Construct):
    """The encrypted, TLS-only topic every alarm notifies, and the alarms themselves (the
    factory makes them as children of this construct)."""

    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        key = kms.Key(
            self,
            "TopicKey",
            description=f"{stack.stack_name}: alarm notifications",
            enable_key_rotation=True,
            # Kept when the stack goes, as KMS keys are by default, but not after a failed
            # first create: a retry would leave one orphaned key per attempt.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic.
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        # The topic policy replaces SNS's default one: CloudWatch must be let in explicitly,
        # and only for this account's alarms.
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
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._key = key
        self._events_allowed = False

    def allow_event_rules(self) -> None:
        """Let this account's EventBridge rules publish to the encrypted topic (once)."""
        if self._events_allowed:
            return
        self._events_allowed = True
        stack = Stack.of(self)
        self._key.grant(
            iam.ServicePrincipal("events.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeRulesOfThisAccount",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:aws:events:{stack.region}:{stack.account}:rule/*"
                    },
                },
            )
        )


class AlarmFactory:
    """Makes alarms that notify the topic when they fire and when they clear."""

    def __init__(self, topic: AlarmTopic) -> None:
        self._scope = topic
        self._action = cloudwatch_actions.SnsAction(topic.topic)

    @property
    def scope(self) -> Construct:
        """Where the alarms and their metric filters live."""
        return self._scope

    def alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = GREATER_OR_EQUAL,
        alarm_name: str | None = None,
    ) -> cloudwatch.Alarm:
        created = cloudwatch.Alarm(
            self._scope,
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


@dataclass(frozen=True, kw_only=True)
class DeploymentAlarms:
    """The alarms ECS watches during a release, and their fixed names (ECS reads names)."""

    names: tuple[str, ...]
    alarms: tuple[cloudwatch.Alarm, ...]


def deployment_alarms(
    factory: AlarmFactory,
    *,
    name_prefix: str,
    target_groups: Sequence[elbv2.ApplicationTargetGroup],
    error_percent: int,
) -> DeploymentAlarms:
    """What rolls a release back: a target group's 5xx rate, or its unhealthy targets. Fixed
    names: a generated one would make the service depend on its own alarms' references."""
    names = (f"{name_prefix}-5xx-rate", f"{name_prefix}-unhealthy-targets")
    periods = 2
    error_rate = factory.alarm(
        "DeploymentTargetErrorRate",
        _per_target_group(
            target_groups,
            lambda group, i: {
                f"errors{i}": group.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=ONE_MINUTE, statistic="Sum"
                ),
                f"requests{i}": group.metrics.request_count(period=ONE_MINUTE, statistic="Sum"),
            },
            lambda i: (
                f"IF(FILL(errors{i}, 0) >= {DEPLOYMENT_MIN_ERRORS}, "
                f"100 * FILL(errors{i}, 0) / requests{i}, 0)"
            ),
            label="5xx % of the worst target group",
            period=ONE_MINUTE,
        ),
        threshold=error_percent,
        periods=periods,
        alarm_name=names[0],
        description=(
            f"A target group answered {error_percent}% or more of its requests with 5xx "
            f"{sustained(periods, ONE_MINUTE)} (a release in progress rolls back)."
        ),
    )
    unhealthy = factory.alarm(
        "DeploymentUnhealthyTargets",
        _unhealthy_targets(
            target_groups, ONE_MINUTE, "unhealthy targets of the worst target group"
        ),
        threshold=1,
        periods=periods,
        alarm_name=names[1],
        description=(
            f"A target failed its health checks {sustained(periods, ONE_MINUTE)} "
            "(a release in progress rolls back)."
        ),
    )
    return DeploymentAlarms(names=names, alarms=(error_rate, unhealthy))


def load_balancer_alarms(
    factory: AlarmFactory,
    load_balancer: elbv2.ApplicationLoadBalancer,
    *,
    target_groups: Sequence[elbv2.ApplicationTargetGroup],
    latency_p99_seconds: float,
) -> None:
    """The service as its users see it through the load balancer: errors, latency, targets."""
    metrics = load_balancer.metrics
    factory.alarm(
        "TargetErrors",
        metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
        ),
        threshold=ERRORS_IN_FIVE_MINUTES,
        description=(
            f"The service answered {ERRORS_IN_FIVE_MINUTES} or more requests with 5xx in 5 minutes."
        ),
    )
    factory.alarm(
        "LoadBalancerErrors",
        metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
        ),
        threshold=ERRORS_IN_FIVE_MINUTES,
        description=(
            f"The load balancer answered {ERRORS_IN_FIVE_MINUTES} or more requests with 5xx "
            "in 5 minutes."
        ),
    )
    latency_periods = 3
    factory.alarm(
        "LatencyP99",
        metrics.target_response_time(period=FIVE_MINUTES, statistic="p99"),
        threshold=latency_p99_seconds,
        periods=latency_periods,
        description=(
            f"The slowest 1% of requests took {latency_p99_seconds} s or more "
            f"{sustained(latency_periods, FIVE_MINUTES)}."
        ),
    )
    unhealthy_periods = 2
    factory.alarm(
        "UnhealthyTasks",
        _unhealthy_targets(target_groups, FIVE_MINUTES, "unhealthy targets"),
        threshold=1,
        periods=unhealthy_periods,
        description=(
            "At least one task failed its health check "
            f"{sustained(unhealthy_periods, FIVE_MINUTES)}."
        ),
    )


def service_alarms(factory: AlarmFactory, service: ecs.FargateService, *, prefix: str = "") -> None:
    """An ECS service (the API's; the worker's with ``prefix`` "Worker"): tasks missing, and
    CPU at its ceiling."""
    insights = {
        "ClusterName": service.cluster.cluster_name,
        "ServiceName": service.service_name,
    }
    missing_periods = 2
    factory.alarm(
        f"{prefix}TasksBelowDesired",
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
        threshold=1,
        periods=missing_periods,
        description=(
            f"Fewer tasks ran than the service wants, {sustained(missing_periods, FIVE_MINUTES)}."
        ),
    )
    cpu_periods = 3
    factory.alarm(
        f"{prefix}ServiceCpu",
        service.metric_cpu_utilization(period=FIVE_MINUTES),
        threshold=SERVICE_CPU_PERCENT,
        periods=cpu_periods,
        description=(
            f"The tasks ran above {SERVICE_CPU_PERCENT}% CPU "
            f"{sustained(cpu_periods, FIVE_MINUTES)} (at the autoscaling ceiling?)."
        ),
    )


def dependency_check_alarms(
    factory: AlarmFactory, log_group: logs.ILogGroup, *, namespace: str
) -> None:
    """The service's own checks of PostgreSQL and Redis, counted from its log lines.
    Liveness never fails for them (the load balancer must not drop every task because a
    dependency is down), so this is where such an outage shows."""
    count_log_lines(
        factory.scope,
        "DependencyCheckFailed",
        log_group,
        DEPENDENCY_CHECK_FAILED,
        namespace=namespace,
        metric_name="DependencyCheckFailed",
        dimensions={"Dependency": "$.dependency"},
    )
    for dependency in DEPENDENCIES:
        factory.alarm(
            f"DependencyCheckFailed{dependency.capitalize()}",
            cloudwatch.Metric(
                namespace=namespace,
                metric_name="DependencyCheckFailed",
                dimensions_map={"Dependency": dependency},
                period=FIVE_MINUTES,
                statistic="Sum",
            ),
            threshold=DEPENDENCY_FAILURES,
            description=(
                f"The tasks failed to reach {dependency} {DEPENDENCY_FAILURES} times or more "
                "in 5 minutes (their own background checks)."
            ),
        )


def migration_alarm(
    factory: AlarmFactory, log_groups: Mapping[str, logs.ILogGroup], *, namespace: str
) -> None:
    """A schema migration that failed, in any workload's task (``log_groups`` by the prefix of
    its filter's id: "" for the API's, "Worker", a job's name): a release stops and rolls back
    by itself, a job's run fails, and this says why, before anyone reads the deploy job's log."""
    for prefix, log_group in log_groups.items():
        count_log_lines(
            factory.scope,
            f"{prefix}MigrationFailedFilter",
            log_group,
            MIGRATION_FAILED,
            namespace=namespace,
            metric_name="MigrationFailed",
        )
    factory.alarm(
        "MigrationFailed",
        cloudwatch.Metric(
            namespace=namespace, metric_name="MigrationFailed", period=FIVE_MINUTES, statistic="Sum"
        ),
        threshold=1,
        description=(
            "A schema migration failed and the release is rolling back; the previous "
            "release keeps serving (README: Runbook, a migration fails)."
        ),
    )


def worker_deployment_alarm(
    factory: AlarmFactory,
    log_group: logs.ILogGroup,
    *,
    namespace: str,
    alarm_names: tuple[str, str],
) -> DeploymentAlarms:
    """What rolls a release of the worker back, from its log lines: its code failing messages
    (``message_failed`` with reason ``error``), and its processes stopping because they cannot
    run (``startup_failed``, ``worker_stopped`` with exit status 1). Fixed names, as the API's
    deployment alarms have."""
    failures_name, exits_name = alarm_names
    count_log_lines(
        factory.scope,
        "WorkerMessageFailedFilter",
        log_group,
        MESSAGE_FAILED,
        namespace=namespace,
        metric_name="WorkerMessageFailed",
    )
    periods = 2
    failures = factory.alarm(
        "WorkerMessageFailures",
        cloudwatch.Metric(
            namespace=namespace,
            metric_name="WorkerMessageFailed",
            period=ONE_MINUTE,
            statistic="Sum",
        ),
        threshold=WORKER_DEPLOYMENT_MIN_FAILURES,
        periods=periods,
        alarm_name=failures_name,
        description=(
            f"The worker's code failed {WORKER_DEPLOYMENT_MIN_FAILURES} or more messages a "
            f"minute {sustained(periods, ONE_MINUTE)} (a release in progress rolls back)."
        ),
    )
    count_log_lines(
        factory.scope,
        "WorkerExitedFilter",
        log_group,
        WORKER_EXITED,
        namespace=namespace,
        metric_name="WorkerExited",
    )
    exits = factory.alarm(
        "WorkerExits",
        cloudwatch.Metric(
            namespace=namespace, metric_name="WorkerExited", period=FIVE_MINUTES, statistic="Sum"
        ),
        threshold=WORKER_DEPLOYMENT_MIN_EXITS,
        alarm_name=exits_name,
        description=(
            f"{WORKER_DEPLOYMENT_MIN_EXITS} or more worker processes stopped in five minutes "
            "because they could not run: bad configuration, or a queue they could not read "
            "(a release in progress rolls back)."
        ),
    )
    return DeploymentAlarms(names=(failures_name, exits_name), alarms=(failures, exits))


def queue_alarms(
    factory: AlarmFactory,
    queue: sqs.IQueue,
    dead_letters: sqs.IQueue,
    thresholds: AlarmThresholds,
) -> None:
    """The worker's queue: messages that ended in the dead-letter queue, and a message that
    has waited too long (the worker is down, stuck or far behind)."""
    factory.alarm(
        "WorkDeadLetters",
        dead_letters.metric_approximate_number_of_messages_visible(
            period=FIVE_MINUTES, statistic="Maximum"
        ),
        threshold=thresholds.queue_dead_letters,
        description=(
            f"The work queue's dead-letter queue holds {thresholds.queue_dead_letters} or more "
            "messages: each failed every receive (README: Runbook, redrive the dead letters)."
        ),
    )
    age_periods = 2
    factory.alarm(
        "WorkOldestMessage",
        queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
        threshold=thresholds.queue_oldest_message_seconds,
        periods=age_periods,
        description=(
            f"A message waited {thresholds.queue_oldest_message_seconds // 60} minutes or more "
            f"in the work queue {sustained(age_periods, FIVE_MINUTES)}: the worker is down, "
            "stuck or behind."
        ),
    )


def job_dead_letter_alarm(
    factory: AlarmFactory, dead_letters: sqs.IQueue, thresholds: AlarmThresholds
) -> None:
    """A scheduled run EventBridge Scheduler could not start, after its retries."""
    factory.alarm(
        "JobDeadLetters",
        dead_letters.metric_approximate_number_of_messages_visible(
            period=FIVE_MINUTES, statistic="Maximum"
        ),
        threshold=thresholds.queue_dead_letters,
        description=(
            f"{thresholds.queue_dead_letters} or more scheduled runs could not be started "
            "(ecs:RunTask failed after the retries): see the jobs' dead-letter queue."
        ),
    )


def job_failure_notification(
    topic: AlarmTopic, *, job_name: str, task_definition_family: str, environment_name: str
) -> events.CfnRule:
    """A run of the job that stopped with an error: a container that exited non-zero (the job
    itself, or its migrations), or a task that never started. ECS publishes each task's stop
    as an `ECS Task State Change` event; this rule sends the job's failed ones to the alarm
    topic, one message per failed run, with what ECS says about it."""
    topic.allow_event_rules()
    stack = Stack.of(topic)
    family_arn = f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/"
    return events.CfnRule(
        topic,
        f"{job_name.title().replace('_', '')}Failed",
        description=f"A run of the scheduled job {job_name} stopped with an error",
        event_pattern={
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {
                "lastStatus": ["STOPPED"],
                "taskDefinitionArn": [{"prefix": f"{family_arn}{task_definition_family}:"}],
                "$or": [
                    {"containers": {"exitCode": [{"anything-but": 0}]}},
                    {"stopCode": ["TaskFailedToStart"]},
                ],
            },
        },
        targets=[
            events.CfnRule.TargetProperty(
                id="AlarmTopic",
                arn=topic.topic.topic_arn,
                input_transformer=events.CfnRule.InputTransformerProperty(
                    input_paths_map={
                        "task": "$.detail.taskArn",
                        "reason": "$.detail.stoppedReason",
                        "stopped": "$.detail.stoppedAt",
                    },
                    input_template=(
                        f'"Scheduled job {job_name} failed in {environment_name} at <stopped>: '
                        "<reason>. Task <task> (aws ecs describe-tasks shows each container's "
                        'exit code; README: Runbook, a scheduled job fails)."'
                    ),
                ),
            )
        ],
    )


def database_alarms(
    factory: AlarmFactory, instance: rds.DatabaseInstance, thresholds: AlarmThresholds
) -> None:
    """PostgreSQL running out of CPU, memory, connections or storage."""
    cpu_periods = 3
    factory.alarm(
        "DatabaseCpu",
        instance.metric_cpu_utilization(period=FIVE_MINUTES),
        threshold=thresholds.database_cpu_percent,
        periods=cpu_periods,
        description=(
            f"The database ran above {thresholds.database_cpu_percent}% CPU "
            f"{sustained(cpu_periods, FIVE_MINUTES)}."
        ),
    )
    memory_periods = 3
    factory.alarm(
        "DatabaseMemory",
        instance.metric_freeable_memory(period=FIVE_MINUTES, statistic="Minimum"),
        threshold=thresholds.database_free_memory_bytes,
        periods=memory_periods,
        comparison=LESS_THAN,
        description=(
            f"The database had less than {_gib(thresholds.database_free_memory_bytes)} of "
            f"memory free (a tenth) {sustained(memory_periods, FIVE_MINUTES)}."
        ),
    )
    connection_periods = 2
    factory.alarm(
        "DatabaseConnections",
        instance.metric_database_connections(period=FIVE_MINUTES, statistic="Maximum"),
        threshold=thresholds.database_connections,
        periods=connection_periods,
        description=(
            f"The database held {thresholds.database_connections} connections or more "
            f"(80% of its maximum) {sustained(connection_periods, FIVE_MINUTES)}."
        ),
    )
    factory.alarm(
        "DatabaseStorage",
        instance.metric_free_storage_space(period=FIVE_MINUTES, statistic="Minimum"),
        threshold=thresholds.database_free_storage_bytes,
        comparison=LESS_THAN,
        description=(
            f"The database has less than {_gib(thresholds.database_free_storage_bytes)} of "
            "storage free (a tenth of its first allocation)."
        ),
    )


def cache_alarms(factory: AlarmFactory, nodes: Sequence[str], thresholds: AlarmThresholds) -> None:
    """Redis, every node of the replication group (the worst one counts): engine CPU,
    memory, evictions and, with replicas, replication lag."""
    cpu_periods = 3
    factory.alarm(
        "CacheCpu",
        _cache_metric(nodes, "EngineCPUUtilization", "Maximum", "MAX"),
        threshold=thresholds.cache_cpu_percent,
        periods=cpu_periods,
        description=(
            f"Redis ran above {thresholds.cache_cpu_percent}% engine CPU "
            f"{sustained(cpu_periods, FIVE_MINUTES)}."
        ),
    )
    memory_periods = 3
    factory.alarm(
        "CacheMemory",
        _cache_metric(nodes, "DatabaseMemoryUsagePercentage", "Maximum", "MAX"),
        threshold=thresholds.cache_memory_percent,
        periods=memory_periods,
        description=(
            f"Redis used more than {thresholds.cache_memory_percent}% of its memory "
            f"{sustained(memory_periods, FIVE_MINUTES)}."
        ),
    )
    factory.alarm(
        "CacheEvictions",
        _cache_metric(nodes, "Evictions", "Sum", "SUM"),
        threshold=thresholds.cache_evictions,
        description=(
            f"Redis evicted keys to make room ({thresholds.cache_evictions} or more in 5 "
            "minutes): sessions or jobs may be lost."
        ),
    )
    if len(nodes) > 1:
        lag_periods = 3
        factory.alarm(
            "CacheReplicationLag",
            _cache_metric(nodes, "ReplicationLag", "Maximum", "MAX"),
            threshold=thresholds.cache_replication_lag_seconds,
            periods=lag_periods,
            description=(
                f"A Redis replica lagged {thresholds.cache_replication_lag_seconds} s or more "
                f"behind the primary {sustained(lag_periods, FIVE_MINUTES)} (a failover "
                "would lose writes)."
            ),
        )


def secret_rollout_alarm(factory: AlarmFactory, state_machine: sfn.StateMachine) -> None:
    """A rotated secret whose tasks did not roll: they may hold a dead credential."""
    factory.alarm(
        "SecretRolloutFailed",
        cloudwatch.MathExpression(
            expression="FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)",
            using_metrics={
                "failed": state_machine.metric_failed(period=FIVE_MINUTES),
                "timedout": state_machine.metric_timed_out(period=FIVE_MINUTES),
                "aborted": state_machine.metric_aborted(period=FIVE_MINUTES),
            },
            label="rollouts that did not finish",
            period=FIVE_MINUTES,
        ),
        threshold=1,
        description=(
            "Rolling the tasks after a secret changed failed: they may hold a credential "
            "that no longer works (README: Runbook, restart the tasks)."
        ),
    )


def _gib(size_bytes: int) -> str:
    return f"{size_bytes / 1024**3:g} GiB"


def _per_target_group(
    target_groups: Sequence[elbv2.ApplicationTargetGroup],
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
    target_groups: Sequence[elbv2.ApplicationTargetGroup], period: Duration, label: str
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
    nodes: Sequence[str], metric_name: str, statistic: str, combine: str
) -> cloudwatch.MathExpression:
    """One ElastiCache metric over every node, combined (MAX or SUM) into one series."""
    using: dict[str, cloudwatch.IMetric] = {
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
