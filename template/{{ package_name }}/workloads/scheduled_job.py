"""A scheduled job: EventBridge Scheduler starts ``python -m app.jobs.<name>`` from the
service's image as an ECS task in the private subnets, on a cron or rate schedule in a named
time zone.

The task is a ``WorkloadTask`` like the API's and the worker's (its migrations run first).
The Scheduler's own role may run this task definition, in this cluster, and pass its two
roles, nothing else; an invocation it cannot deliver (``ecs:RunTask`` refused, no capacity)
is retried, then dead-lettered. A run that starts and fails is the job's exit code: the alarm
topic hears of it (``alarms.job_failure_notification``).
"""

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from ..queues import JobDeadLetters
from .cluster import ComputeCluster
from .task import TaskRuntime, WorkloadTask

# Scheduler retries an invocation that failed (RunTask throttled, no Fargate capacity) this
# many times with backoff, for at most this long, before it dead-letters it.
RETRY_ATTEMPTS = 3
MAXIMUM_EVENT_AGE = Duration.hours(1)


class ScheduledJob(Construct):
    """The job's task definition, the Scheduler's role and the schedule itself."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ComputeCluster,
        runtime: TaskRuntime,
        cpu: int,
        memory_mib: int,
        command: tuple[str, ...],
        schedule: str,
        timezone: str,
        enabled: bool,
        security_group: ec2.ISecurityGroup,
        dead_letters: JobDeadLetters,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task = WorkloadTask(
            self, "Task", runtime=runtime, cpu=cpu, memory_mib=memory_mib, command=command
        )
        role = self._scheduler_role(cluster)
        dead_letters.allow_sending(role)
        subnets = cluster.cluster.vpc.select_subnets(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
        ).subnet_ids
        strategies = cluster.capacity_provider_strategies
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description=description,
            schedule_expression=schedule,
            schedule_expression_timezone=timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if enabled else "DISABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=cluster.cluster.cluster_arn,
                role_arn=role.role_arn,
                ecs_parameters=scheduler.CfnSchedule.EcsParametersProperty(
                    task_definition_arn=self.task.task_definition.task_definition_arn,
                    task_count=1,
                    launch_type="FARGATE" if strategies is None else None,
                    capacity_provider_strategy=None
                    if strategies is None
                    else [
                        scheduler.CfnSchedule.CapacityProviderStrategyItemProperty(
                            capacity_provider=strategy.capacity_provider, weight=strategy.weight
                        )
                        for strategy in strategies
                    ],
                    network_configuration=scheduler.CfnSchedule.NetworkConfigurationProperty(
                        awsvpc_configuration=scheduler.CfnSchedule.AwsVpcConfigurationProperty(
                            subnets=subnets,
                            security_groups=[security_group.security_group_id],
                            assign_public_ip="DISABLED",
                        )
                    ),
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=int(MAXIMUM_EVENT_AGE.to_seconds()),
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=dead_letters.queue.queue_arn
                ),
            ),
        )
        # The role's policy is in place before the Scheduler first assumes it.
        policy = role.node.find_child("DefaultPolicy")
        self.schedule.node.add_dependency(policy)
        cluster.place(self.schedule)

    def _scheduler_role(self, cluster: ComputeCluster) -> iam.Role:
        """EventBridge Scheduler's role for this schedule: run this task definition in this
        cluster and pass the task's two roles to ECS, nothing more. Only schedules of this
        account's default group may assume it."""
        stack = Stack.of(self)
        group = stack.format_arn(
            service="scheduler", resource="schedule-group", resource_name="default"
        )
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account, "aws:SourceArn": group}
                },
            ),
            description="EventBridge Scheduler starts one scheduled job's task",
        )
        task_definition = self.task.task_definition
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RunTheJobsTaskInTheCluster",
                actions=["ecs:RunTask"],
                resources=[task_definition.task_definition_arn],
                conditions={"ArnEquals": {"ecs:cluster": cluster.cluster.cluster_arn}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassTheTasksTwoRoles",
                actions=["iam:PassRole"],
                resources=[self.task.task_role.role_arn, self.task.execution_role.role_arn],
                conditions={"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        return role
