"""The queue worker: an ECS service with no load balancer that runs ``python -m app.worker``
from the service's image and consumes the work queue, scaled on its backlog per task.

It shares ``WorkloadTask`` with the API: the same image, secrets and stores, and the schema
migrations as an init container, so a release's migrations gate the worker too. A release
rolls back on the circuit breaker (tasks that do not start or keep stopping) and on the
deployment alarm ``alarms.worker_deployment_alarm`` (messages that fail).
"""

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from ..queues import VISIBILITY_TIMEOUT, WorkQueue
from .cluster import ComputeCluster
from .task import TaskRuntime, WorkloadTask, workload_service
from .web_service import TaskCount

WORKER_COMMAND = ("python", "-m", "app.worker")
# What autoscaling aims at: messages waiting per running task. A task that handles a message
# in about half a second works through 100 in under a minute: raise it for fast messages,
# lower it for slow ones (target = acceptable wait / time per message).
BACKLOG_PER_TASK = 100
# On SIGTERM (a release, a scale-in, a Spot interruption) the worker finishes the message in
# hand and stops polling: it gets the longest stop timeout Fargate allows. Work that can take
# longer belongs in smaller messages, or in task scale-in protection (README: "Workloads").
STOP_TIMEOUT = Duration.seconds(120)


class QueueWorker(Construct):
    """The worker's task, its ECS service (circuit breaker with rollback, no load balancer),
    its right to consume the queue, and target tracking on the backlog per task."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ComputeCluster,
        runtime: TaskRuntime,
        cpu: int,
        memory_mib: int,
        work_queue: WorkQueue,
        security_group: ec2.ISecurityGroup,
        task_count: TaskCount,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task = WorkloadTask(
            self,
            "Task",
            runtime=runtime,
            cpu=cpu,
            memory_mib=memory_mib,
            command=WORKER_COMMAND,
            environment={
                "QUEUE_URL": work_queue.queue.queue_url,
                "QUEUE_VISIBILITY_TIMEOUT_SECONDS": str(int(VISIBILITY_TIMEOUT.to_seconds())),
            },
            stop_timeout=STOP_TIMEOUT,
        )
        work_queue.allow_consuming(self.task.task_role)
        self.service = workload_service(
            self, cluster=cluster, task=self.task, security_group=security_group
        )
        self._scale_on_backlog(cluster, work_queue, task_count)

    def _scale_on_backlog(
        self, cluster: ComputeCluster, work_queue: WorkQueue, task_count: TaskCount
    ) -> None:
        """Target tracking on messages visible / running tasks (Application Auto Scaling's
        metric math, as its guide's SQS example does). CDK's target tracking takes one metric
        only, so the policy is written as CloudFormation declares it."""
        scaling = self.service.auto_scale_task_count(
            min_capacity=task_count.minimum, max_capacity=task_count.maximum
        )
        target = scaling.node.find_child("Target")
        assert isinstance(target, autoscaling.ScalableTarget)
        policy = autoscaling.CfnScalingPolicy
        visible = policy.TargetTrackingMetricDataQueryProperty(
            id="visible",
            metric_stat=policy.TargetTrackingMetricStatProperty(
                metric=policy.TargetTrackingMetricProperty(
                    namespace="AWS/SQS",
                    metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions=[
                        policy.TargetTrackingMetricDimensionProperty(
                            name="QueueName", value=work_queue.queue.queue_name
                        )
                    ],
                ),
                stat="Sum",
            ),
            return_data=False,
        )
        running = policy.TargetTrackingMetricDataQueryProperty(
            id="running",
            metric_stat=policy.TargetTrackingMetricStatProperty(
                metric=policy.TargetTrackingMetricProperty(
                    namespace="ECS/ContainerInsights",
                    metric_name="RunningTaskCount",
                    dimensions=[
                        policy.TargetTrackingMetricDimensionProperty(
                            name="ClusterName", value=cluster.cluster.cluster_name
                        ),
                        policy.TargetTrackingMetricDimensionProperty(
                            name="ServiceName", value=self.service.service_name
                        ),
                    ],
                ),
                stat="Average",
            ),
            return_data=False,
        )
        backlog = policy.TargetTrackingMetricDataQueryProperty(
            id="backlog_per_task",
            expression="visible / running",
            label="messages waiting per running task",
            return_data=True,
        )
        configuration = policy.TargetTrackingScalingPolicyConfigurationProperty(
            target_value=BACKLOG_PER_TASK,
            customized_metric_specification=policy.CustomizedMetricSpecificationProperty(
                metrics=[visible, running, backlog]
            ),
            scale_in_cooldown=int(Duration.minutes(5).to_seconds()),
            scale_out_cooldown=int(Duration.minutes(1).to_seconds()),
        )
        policy(
            self,
            "BacklogPerTask",
            policy_name="backlog-per-task",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.scalable_target_id,
            target_tracking_scaling_policy_configuration=configuration,
        )
