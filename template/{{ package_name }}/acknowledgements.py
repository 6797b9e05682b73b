"""The cdk-nag findings this service acknowledges instead of fixing: one table, with reasons.

Each entry names the exact finding (with its ``[Resource::...]`` part where the rule reports
one), the narrowest construct it sits on, and a reason a security reviewer can check.
``policy.acknowledge`` applies them, ``docs/security-acknowledgements.md`` lists them, and a
test keeps the number applied per environment within ``BUDGET``. No CDK import here: the
template reads this table to render the docs.
"""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Acknowledgement:
    finding: str
    construct: str
    reason: str
    # The preset this acknowledgement is limited to (its finding is fixed in the others);
    # None for every environment.
    only_sized: str | None = None
    # The validation plugin that reports the finding: cdk-nag's pack, or CDK's own
    # CloudFormation rules ("CloudFormation-Validate").
    plugin: str = "AwsSolutions"

    @property
    def validation_id(self) -> str:
        """The id the validation report shows, e.g. ``AwsSolutions::AwsSolutions-S1``."""
        return f"{self.plugin}::{self.finding}"


ACCESS_LOG_BUCKET = Acknowledgement(
    finding="AwsSolutions-S1",
    construct="Compute / LoadBalancer / AccessLogs (S3 bucket)",
    reason=(
        "This bucket is the destination of the load balancer's access logs; logging access "
        "to it into yet another bucket would only move the finding there."
    ),
)
PUBLIC_LOAD_BALANCER = Acknowledgement(
    finding="AwsSolutions-EC23",
    construct="Network / LoadBalancerSecurityGroup",
    reason=(
        "The internet-facing load balancer is the service's public entrance: it must accept "
        "HTTP(S) from anywhere. It forwards only to the service's port."
    ),
)
PLAIN_TASK_ENVIRONMENT = Acknowledgement(
    finding="AwsSolutions-ECS2",
    construct="Compute / Service / TaskDefinition",
    reason=(
        "The plain environment holds only non-secret settings (endpoints, ports, names); "
        "every credential is injected from Secrets Manager through `secrets`."
    ),
)
ECR_AUTHORIZATION_TOKEN = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Compute / Service / ExecutionRole / DefaultPolicy",
    reason=(
        "ecr:GetAuthorizationToken has no resource-level permissions and must be granted on "
        "'*'; every other statement of the execution role names its repository, log group "
        "and secrets."
    ),
)
STATE_MACHINE_TELEMETRY = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Compute / RollOnSecretChange / StateMachine / Role / DefaultPolicy",
    reason=(
        "The task-rolling state machine's X-Ray tracing (xray:PutTraceSegments and friends) "
        "and its CloudWatch Logs delivery (logs:CreateLogDelivery and friends) have no "
        "resource-level permissions; its one AWS call, ecs:UpdateService, names the service."
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
    REDIS_AUTH_TOKEN_ROTATION,
    SINGLE_NODE_CACHE,
    SINGLE_AZ_DATABASE,
)

# The most acknowledgements one environment may carry. Raise it only with a reviewer.
BUDGET = 9
