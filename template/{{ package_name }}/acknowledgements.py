"""The cdk-nag findings this service acknowledges instead of fixing: one table, with reasons.

Each entry names the exact finding (with its ``[Resource::...]`` part where the rule reports
one), the narrowest construct it sits on, and a reason a security reviewer can check.
``policy.acknowledge`` applies them, ``docs/security-acknowledgements.md`` lists them, and a
test keeps the number applied per environment within ``BUDGET``. No CDK import here.

After changing the table, write the page anew (a test fails until then)::

    uv run python -m <package>.acknowledgements > docs/security-acknowledgements.md
"""

import re
from dataclasses import dataclass

from .sizing import SIZING_PRESETS


@dataclass(frozen=True, kw_only=True)
class Acknowledgement:
    finding: str
    construct: str
    reason: str
    # The preset this acknowledgement is limited to (its finding is fixed in the others);
    # None for every environment.
    only_sized: str | None = None
    # Only where the pull-request diff role exists (enable_pr_diff).
    only_with_pr_diff: bool = False
    # Only where releases shift traffic in steps (the sizing's canary or linear strategy).
    only_shifting_traffic: bool = False
    # Only where operators may open a shell in the tasks (enable_ecs_exec).
    only_with_ecs_exec: bool = False
    # Only where the service runs one of these workloads (config.Workload: api, worker,
    # scheduled_job); empty for any.
    only_with_workloads: tuple[str, ...] = ()
    # The validation plugin that reports the finding: cdk-nag's pack, or CDK's own
    # CloudFormation rules ("CloudFormation-Validate").
    plugin: str = "AwsSolutions"

    @property
    def validation_id(self) -> str:
        """The id the validation report shows, e.g. ``AwsSolutions::AwsSolutions-S1``; a
        finding about an environment's own resource names it ``{resource}``."""
        return f"{self.plugin}::{self.finding}"

    def validation_id_for(self, resource: str | None) -> str:
        """The id for one construct, with its ``{resource}`` filled in."""
        if "{resource}" in self.finding:
            assert resource is not None, f"{self.finding} needs its resource"
            return self.validation_id.replace("{resource}", resource)
        return self.validation_id

    def matches(self, validation_id: str) -> bool:
        """Whether an applied id is this entry (any ``{resource}``)."""
        pattern = re.escape(self.validation_id).replace(re.escape("{resource}"), ".+")
        return re.fullmatch(pattern, validation_id) is not None


ACCESS_LOG_BUCKET = Acknowledgement(
    finding="AwsSolutions-S1",
    construct="Compute / LoadBalancer / AccessLogs (S3 bucket)",
    only_with_workloads=("api",),
    reason=(
        "This bucket is the destination of the load balancer's access logs; logging access "
        "to it into yet another bucket would only move the finding there."
    ),
)
PUBLIC_LOAD_BALANCER = Acknowledgement(
    finding="AwsSolutions-EC23",
    construct="Network / LoadBalancerSecurityGroup",
    only_with_workloads=("api",),
    reason=(
        "The internet-facing load balancer is the service's public entrance: it must accept "
        "HTTP(S) from anywhere. It forwards only to the service's port."
    ),
)
PLAIN_TASK_ENVIRONMENT = Acknowledgement(
    finding="AwsSolutions-ECS2",
    construct="Compute / each workload's TaskDefinition",
    reason=(
        "The plain environment holds only non-secret settings (endpoints, ports, names); "
        "every credential is injected from Secrets Manager through `secrets`."
    ),
)
ECR_AUTHORIZATION_TOKEN = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Compute / each workload's ExecutionRole / DefaultPolicy",
    reason=(
        "ecr:GetAuthorizationToken has no resource-level permissions and must be granted on "
        "'*'; every other statement of the execution role names its repository, log group "
        "and secrets."
    ),
)
STATE_MACHINE_TELEMETRY = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Compute / RollOnSecretChange / StateMachine / Role / DefaultPolicy",
    only_with_workloads=("api", "worker"),
    reason=(
        "The task-rolling state machine's X-Ray tracing (xray:PutTraceSegments and friends) "
        "and its CloudWatch Logs delivery (logs:CreateLogDelivery and friends) have no "
        "resource-level permissions; its one kind of AWS call, ecs:UpdateService, names each "
        "service it rolls."
    ),
)
DIFF_ROLE_READS_ITS_STACKS = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::{resource}]",
    construct="Identity / GithubDiff / Role / DefaultPolicy",
    only_with_pr_diff=True,
    reason=(
        "The pull-request diff role reads (Describe/Get/List) this environment's stacks "
        "'<Service>-<Env>-*': the stack ARNs end in ids CloudFormation makes, and nested "
        "stacks get generated names under the same prefix; nothing else is readable."
    ),
)
REDIS_AUTH_TOKEN_ROTATION = Acknowledgement(
    finding="AwsSolutions-SMG4",
    construct="Datastore / Cache / AuthToken (secret)",
    reason=(
        "Secrets Manager has no rotation function for ElastiCache AUTH tokens; the runbook "
        "rotates the token with ElastiCache's ROTATE strategy, without downtime."
    ),
)
SINGLE_NODE_CACHE = Acknowledgement(
    finding="AwsSolutions-AEC4",
    construct="Datastore / Cache / ReplicationGroup",
    only_sized="small",
    reason=(
        "The small sizing runs one Redis node to save cost; the cache holds no data that "
        "cannot be rebuilt. The medium and large sizings run Multi-AZ."
    ),
)
SINGLE_AZ_DATABASE = Acknowledgement(
    finding="AwsSolutions-RDS3",
    construct="Datastore / Database / Instance",
    only_sized="small",
    reason=(
        "The small sizing runs a single-AZ database to save cost; backups and snapshots "
        "protect the data. The medium and large sizings run Multi-AZ."
    ),
)
ENHANCED_MONITORING_ROLE = Acknowledgement(
    finding=(
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonRDSEnhancedMonitoringRole]"
    ),
    construct="Datastore / Database / Instance / MonitoringRole",
    reason=(
        "RDS enhanced monitoring writes OS metrics with this AWS managed policy, made for that "
        "one purpose: it reaches only the RDSOSMetrics log group; only RDS can assume the role."
    ),
)
FUNCTION_NETWORK_INTERFACES = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Datastore / Database / AppUser / Role / DefaultPolicy",
    reason=(
        "The function that creates the application's database user runs in the VPC: Lambda "
        "manages its network interfaces (ec2:CreateNetworkInterface and friends), which have "
        "no resource-level permissions; it reads only the two database secrets."
    ),
)
TRAFFIC_SHIFT_DESCRIBES = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Compute / Service / DeploymentRole / DefaultPolicy",
    only_shifting_traffic=True,
    only_with_workloads=("api",),
    reason=(
        "ECS shifts a release's traffic between the two target groups with this role: the "
        "Describe calls of Elastic Load Balancing have no resource-level permissions; every "
        "change it may make names the listener, its rule and the two target groups."
    ),
)
ECS_EXEC_CHANNELS = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Compute / the API's and the worker's TaskRole / DefaultPolicy",
    only_with_ecs_exec=True,
    only_with_workloads=("api", "worker"),
    reason=(
        "ECS Exec's agent in the task opens its Session Manager channels (ssmmessages:*Channel) "
        "and finds its log group (logs:DescribeLogGroups): neither has resource-level "
        "permissions. Session logs go to one encrypted log group, decrypted by one key."
    ),
)
JOB_DEAD_LETTERS = Acknowledgement(
    finding="AwsSolutions-SQS3",
    construct="Datastore / JobDeadLetters / Queue",
    only_with_workloads=("scheduled_job",),
    reason=(
        "This queue is itself a dead-letter queue: EventBridge Scheduler sends it the "
        "scheduled jobs' invocations it could not deliver (the schedules' DeadLetterConfig, "
        "which the rule does not read). Its redrive allow policy denies every source queue."
    ),
)

EXPLICIT_AVAILABILITY_ZONES = Acknowledgement(
    plugin="CloudFormation-Validate",
    finding="W3010",
    construct="Network / Vpc (its subnets)",
    reason=(
        "The zones are named explicitly, per region, so that synth never asks AWS (no "
        "context lookup); the region's table in environments.py is the single place to "
        "change them."
    ),
)

ACKNOWLEDGEMENTS = (
    EXPLICIT_AVAILABILITY_ZONES,
    ACCESS_LOG_BUCKET,
    PUBLIC_LOAD_BALANCER,
    PLAIN_TASK_ENVIRONMENT,
    ECR_AUTHORIZATION_TOKEN,
    STATE_MACHINE_TELEMETRY,
    DIFF_ROLE_READS_ITS_STACKS,
    REDIS_AUTH_TOKEN_ROTATION,
    SINGLE_NODE_CACHE,
    SINGLE_AZ_DATABASE,
    ENHANCED_MONITORING_ROLE,
    FUNCTION_NETWORK_INTERFACES,
    TRAFFIC_SHIFT_DESCRIBES,
    ECS_EXEC_CHANNELS,
    JOB_DEAD_LETTERS,
)

# The most entries of the table one environment may carry (an entry applied to each
# workload's task counts once). Raise it only with a reviewer.
BUDGET = 14


def _applies_to(ack: Acknowledgement) -> str:
    if ack.only_sized:
        return f"environments sized {ack.only_sized}"
    if ack.only_with_pr_diff:
        return "every environment, with the pull-request diff"
    if ack.only_shifting_traffic:
        shifting = [name for name, preset in SIZING_PRESETS.items() if preset.shifts_traffic]
        return f"environments sized {' or '.join(shifting)} (canary or linear deploys)"
    workloads = " or ".join(ack.only_with_workloads)
    if ack.only_with_ecs_exec:
        return "every environment, with ECS Exec" + (f" ({workloads})" if workloads else "")
    if workloads:
        return f"every environment, with the {workloads} workload"
    return "every environment"


def markdown() -> str:
    """``docs/security-acknowledgements.md``: the table, for reviewers."""
    rows = "\n".join(
        f"| `{ack.validation_id}` | {ack.construct} | {_applies_to(ack)} | {ack.reason} |"
        for ack in ACKNOWLEDGEMENTS
    )
    return f"""# Security acknowledgements

Every synth runs cdk-nag's AwsSolutions pack (and CDK's own CloudFormation rules) and fails on
any finding that is neither fixed nor acknowledged. Findings are fixed in the constructs
wherever a fix is reasonable; these are the only ones acknowledged. Each sits on the narrowest
construct and is applied from one table, `{__package__}/acknowledgements.py`.

A test (`tests/test_policy.py`) keeps this page, the table and the synthesized app in step, and
keeps the number of entries applied per environment at or below the budget: **{BUDGET}** (an
entry on each workload's task counts once).
Raising the budget, or adding a row, needs a security reviewer.

| Finding | Construct | Applies to | Reason |
| --- | --- | --- | --- |
{rows}
"""


if __name__ == "__main__":
    print(markdown(), end="")
