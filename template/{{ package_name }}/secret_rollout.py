"""New secret, new tasks: ECS injects secrets when a task starts, so after the database
password rotates (or the Redis AUTH token changes) the running tasks still hold the old value.

Secrets Manager publishes a native ``Secret Label Updated`` event (no CloudTrail trail needed)
when ``AWSCURRENT`` moves to a new version. A rule sends it to a one-step state machine that
calls ``ecs:UpdateService`` with ``forceNewDeployment``: a rolling deployment, behind the same
circuit breaker and health checks as any other, replaces every task with one that reads the new
value.
"""

from collections.abc import Sequence

from aws_cdk import Aws, Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .acknowledgements import STATE_MACHINE_TELEMETRY
from .default_policy import default_policy, depend_on_policy_only
from .log_groups import retained_log_group
from .policy import acknowledge


class RollTasksOnSecretChange(Construct):
    """Force a new deployment of each of ``services`` (the API's, the worker's), one after the
    other, whenever one of ``secrets`` gets a new value. Scheduled jobs need nothing: each run
    is a new task, which reads the current value."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        services: Sequence[ecs.FargateService],
        secrets: list[secretsmanager.ISecret],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        steps = [
            self._force_new_deployment(
                # The first keeps the id it had when the API was the only service.
                "ForceNewDeployment" if index == 0 else f"ForceNewDeployment{index + 1}",
                service,
            )
            for index, service in enumerate(services)
        ]
        chain = sfn.Chain.start(steps[0])
        for step in steps[1:]:
            chain = chain.next(step)
        log_group = retained_log_group(
            self,
            "Logs",
            retention=log_retention,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=Duration.minutes(10),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        # The only call the state machine may make, on these services alone.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ecs:UpdateService"],
                resources=[service.service_arn for service in services],
            )
        )
        acknowledge(default_policy(self.state_machine.role), STATE_MACHINE_TELEMETRY)
        depend_on_policy_only(self.state_machine, self.state_machine.role)
        self.rule = events.Rule(
            self,
            "SecretChanged",
            description="A secret the service reads got a new current value: roll the tasks",
            event_pattern=events.EventPattern(
                source=["aws.secretsmanager"],
                detail_type=["Secret Label Updated"],
                resources=[secret.secret_arn for secret in secrets],
                detail={"labelUpdated": ["AWSCURRENT"]},
            ),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )

    def _force_new_deployment(
        self, construct_id: str, service: ecs.FargateService
    ) -> sfn.CustomState:
        # The AWS SDK integration, written as Amazon States Language: the same state as
        # aws_stepfunctions_tasks.CallAwsService writes, without importing that module (about
        # 0.5 s of every synth and test run, and the largest module mypy would follow).
        step = sfn.CustomState(
            self,
            construct_id,
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:ecs:updateService",
                "Parameters": {
                    "Cluster": service.cluster.cluster_arn,
                    "Service": service.service_arn,
                    "ForceNewDeployment": True,
                },
            },
        )
        step.add_retry(max_attempts=4, interval=Duration.seconds(15), backoff_rate=2.0)
        return step
