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

from .packs import COMPLIANCE_PACKS, PLUGIN_OF_PACK, CompliancePack
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
    # Only where the database has a backup plan (EnvironmentConfig.backup_plan).
    only_with_backup_plan: bool = False
    # Only where the scheduled drift check has its role (enable_drift_detection).
    only_with_drift_detection: bool = False
    # Only where the stacks' roles carry a permissions boundary (permissions_boundary).
    only_with_permissions_boundary: bool = False
    # Only where the environment has a domain (True) or has none (False); None: either way.
    only_with_domain: bool | None = None
    # Only where the Redis AUTH token is rotated (True) or is not (False); None: either way.
    only_with_cache_token_rotation: bool | None = None
    # The compliance pack that reports the finding (PACK_ACKNOWLEDGEMENTS); None: AwsSolutions
    # or CloudFormation, which every service runs.
    pack: CompliancePack | None = None
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
    only_with_cache_token_rotation=False,
    reason=(
        "This service has not turned on the token's rotation (cache_token_rotation, "
        "decision 14), which would change its Network and Datastore stacks; the runbook "
        "rotates the token by hand with ElastiCache's ROTATE strategy, without downtime."
    ),
)
CACHE_TOKEN_ROTATION_WILDCARDS = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Datastore / Cache / TokenRotation / Role / DefaultPolicy",
    only_with_cache_token_rotation=True,
    reason=(
        "The function that rotates the Redis AUTH token runs in the VPC: Lambda manages its "
        "network interfaces (ec2:CreateNetworkInterface and friends), and it draws the new "
        "token from secretsmanager:GetRandomPassword; neither has resource-level permissions. "
        "It may read and stage only the token's secret and modify only its replication group."
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
    construct="Datastore / Database / {AppUser, Rotation, AppRotation} / Role / DefaultPolicy",
    reason=(
        "The functions that create the application's database user and rotate the database "
        "passwords run in the VPC: Lambda manages their network interfaces "
        "(ec2:CreateNetworkInterface and friends), and the rotations draw new passwords from "
        "secretsmanager:GetRandomPassword; neither has resource-level permissions. Each reads "
        "only the database secrets, and a rotation stages only its own."
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

BACKUP_SERVICE_ROLE = Acknowledgement(
    finding=(
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSBackupServiceRolePolicyForBackup]"
    ),
    construct="Datastore / Backup / Plan / Database / Role",
    only_with_backup_plan=True,
    reason=(
        "AWS Backup snapshots the database with this AWS managed policy, made for that one "
        "purpose and kept current by AWS as its backup calls change; only AWS Backup can "
        "assume the role, and it is selected for this one database."
    ),
)
DRIFT_ROLE_READS_ITS_STACKS = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::{resource}]",
    construct="Identity / GithubDrift / Role / DefaultPolicy",
    only_with_drift_detection=True,
    reason=(
        "The scheduled drift check starts and reads drift detection on this environment's "
        "stacks '<Service>-<Env>-*' only: the stack ARNs end in ids CloudFormation makes."
    ),
)
DRIFT_ROLE_READS_CONFIGURATION = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Identity / GithubDrift / Role / DefaultPolicy",
    only_with_drift_detection=True,
    reason=(
        "CloudFormation reads each resource with the caller's permissions to compare it: the "
        "role gets the Describe/Get/List actions of the resource types' read handlers (drift.py), "
        "most without resource-level permissions; no secret value, no decryption, no write."
    ),
)

_BOUNDARY_REASON = (
    "A permissions boundary is a ceiling, not a grant: a role still does only what its own "
    "policies allow, within the boundary. It allows every action on every resource but what "
    "makes a role an administrator of the account (any IAM write, Organizations, the account's "
    "settings, a CDK bootstrap role, passing another environment's roles, changing the code "
    "another principal's role runs), since what the stacks' roles do at run time cannot be "
    "listed once for all (permissions_boundary.py)."
)
PERMISSIONS_BOUNDARY_ACTIONS = Acknowledgement(
    finding="AwsSolutions-IAM5[Action::*]",
    construct="Identity / PermissionsBoundary",
    only_with_permissions_boundary=True,
    reason=_BOUNDARY_REASON,
)
PERMISSIONS_BOUNDARY_RESOURCES = Acknowledgement(
    finding="AwsSolutions-IAM5[Resource::*]",
    construct="Identity / PermissionsBoundary",
    only_with_permissions_boundary=True,
    reason=_BOUNDARY_REASON,
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
    CACHE_TOKEN_ROTATION_WILDCARDS,
    SINGLE_NODE_CACHE,
    SINGLE_AZ_DATABASE,
    ENHANCED_MONITORING_ROLE,
    FUNCTION_NETWORK_INTERFACES,
    TRAFFIC_SHIFT_DESCRIBES,
    ECS_EXEC_CHANNELS,
    BACKUP_SERVICE_ROLE,
    DRIFT_ROLE_READS_ITS_STACKS,
    DRIFT_ROLE_READS_CONFIGURATION,
    PERMISSIONS_BOUNDARY_ACTIONS,
    PERMISSIONS_BOUNDARY_RESOURCES,
    JOB_DEAD_LETTERS,
)

# The most entries of the table one environment may carry (an entry applied to each
# workload's task counts once). Raise it only with a reviewer: 17, then 19 for the permissions
# boundary's two (a ceiling cdk-nag reads as a grant), 2026-12-07.
BUDGET = 19


@dataclass(frozen=True, kw_only=True)
class PackAcknowledgement:
    """One finding of the compliance packs, acknowledged on the constructs at ``paths``.

    cdk-nag names a rule the same in every pack that has it (``IAMNoInlinePolicy``); ``packs``
    says which packs report it, and ``for_pack`` gives the entry each one's finding id matches.
    A path is '<Phase>/<construct path in that stack>'; '*' stands for part of one segment
    (the public subnets, one per zone). ``compliance.py`` applies each entry where its
    conditions hold, and fails the synth when a path finds nothing.
    """

    rule: str
    paths: tuple[str, ...]
    reason: str
    packs: tuple[CompliancePack, ...] = COMPLIANCE_PACKS
    only_sized: str | None = None
    only_with_pr_diff: bool = False
    only_shifting_traffic: bool = False
    only_with_ecs_exec: bool = False
    only_with_drift_detection: bool = False
    only_with_permissions_boundary: bool = False
    only_with_domain: bool | None = None
    only_with_workloads: tuple[str, ...] = ()

    @property
    def construct(self) -> str:
        return "; ".join(path.replace("/", " / ") for path in self.paths)

    def for_pack(self, pack: CompliancePack) -> Acknowledgement:
        """This entry as one pack reports it (its plugin, its finding id)."""
        assert pack in self.packs, (self.rule, pack)
        plugin = PLUGIN_OF_PACK[pack]
        return Acknowledgement(
            plugin=plugin,
            finding=f"{plugin}-{self.rule}",
            construct=self.construct,
            reason=self.reason,
            pack=pack,
            only_sized=self.only_sized,
            only_with_pr_diff=self.only_with_pr_diff,
            only_shifting_traffic=self.only_shifting_traffic,
            only_with_ecs_exec=self.only_with_ecs_exec,
            only_with_drift_detection=self.only_with_drift_detection,
            only_with_permissions_boundary=self.only_with_permissions_boundary,
            only_with_domain=self.only_with_domain,
            only_with_workloads=self.only_with_workloads,
        )


NIST_AND_HIPAA: tuple[CompliancePack, ...] = ("nist-800-53-r5", "hipaa")

# Why every role's own policy stays inline (IAMNoInlinePolicy), said once for the rows below.
_INLINE = (
    "CDK writes this role's policy from its grants, for this role alone: it is created, "
    "changed and deleted with the role, versioned by CloudFormation and git, and attached "
    "nowhere else, which is what a customer managed policy would add. Managed policies would "
    "also need iam:CreatePolicy and CreatePolicyVersion in the pipeline's execution policy, "
    "which may now change only its own roles' inline policies."
)
INLINE_POLICIES = PackAcknowledgement(
    rule="IAMNoInlinePolicy",
    # '**/DefaultPolicy': every role's default policy in that stack, at any depth, and no
    # other inline policy (compliance.py; tests/test_compliance.py checks each is a role's).
    paths=(
        "Identity/**/DefaultPolicy",
        "Network/**/DefaultPolicy",
        "Datastore/**/DefaultPolicy",
        "Compute/**/DefaultPolicy",
    ),
    reason=(
        f"{_INLINE} Roles: the deploy role (assumes the bootstrap roles), the pull-request diff "
        "and drift roles (read this environment's stacks), the flow log's delivery, the "
        "database-user function, each workload's task execution and task roles, the "
        "Scheduler's role of each job, ECS's traffic-shifting role, the task-rolling state "
        "machine and the rule that starts it, the database's two rotation functions; each where "
        "the service has it."
    ),
)
PUBLIC_SUBNET_ROUTES = PackAcknowledgement(
    rule="VPCNoUnrestrictedRouteToIGW",
    paths=("Network/Network/Vpc/PublicSubnet*/DefaultRoute",),
    reason=(
        "The public subnets route 0.0.0.0/0 to the internet gateway: the internet-facing load "
        "balancer answers clients and the NAT gateways reach out through it. Nothing else lives "
        "there (no address is assigned at launch); private and isolated subnets have no route "
        "to the gateway."
    ),
)
ACCESS_LOG_BUCKET_LOGGING = PackAcknowledgement(
    rule="S3BucketLoggingEnabled",
    paths=("Compute/LoadBalancer/AccessLogs",),
    only_with_workloads=("api",),
    reason=(
        "The destination of the load balancer's access logs: its own access logs would go to "
        "a second bucket whose access nobody logs. No role of the service may read it; changes "
        "to the bucket or its policy are in CloudTrail's management events."
    ),
)
ACCESS_LOG_BUCKET_KMS = PackAcknowledgement(
    rule="S3DefaultEncryptionKMS",
    paths=("Compute/LoadBalancer/AccessLogs",),
    only_with_workloads=("api",),
    reason=(
        "Elastic Load Balancing writes access logs only to buckets encrypted with S3-managed "
        "keys (ELB User Guide, 'Enable access logs': SSE-S3 is the only supported option). "
        "The bucket is encrypted, TLS-only and blocks public access."
    ),
)
ACCESS_LOG_BUCKET_REPLICATION = PackAcknowledgement(
    rule="S3BucketReplicationEnabled",
    paths=("Compute/LoadBalancer/AccessLogs",),
    only_with_workloads=("api",),
    reason=(
        "Replication would need a bucket in a second region to outlast a regional failure; "
        "this service runs in one. The logs are versioned, kept 365 days and retained when "
        "the stack is deleted."
    ),
)
HTTP_WITHOUT_DOMAIN = PackAcknowledgement(
    rule="ALBHttpToHttpsRedirection",
    paths=("Compute/LoadBalancer/Alb/Http",),
    only_with_domain=False,
    only_with_workloads=("api",),
    reason=(
        "Only production has a domain (and a certificate): dev and staging serve plain HTTP "
        "and must hold no regulated data. With a compliance pack, production without a domain "
        "is refused."
    ),
)
CERTIFICATE_WITHOUT_DOMAIN = PackAcknowledgement(
    rule="ELBv2ACMCertificateRequired",
    paths=("Compute/LoadBalancer/Alb/Http",),
    only_with_domain=False,
    only_with_workloads=("api",),
    reason=HTTP_WITHOUT_DOMAIN.reason,
)
REDIRECT_LISTENER = PackAcknowledgement(
    rule="ELBv2ACMCertificateRequired",
    paths=("Compute/LoadBalancer/Alb/Redirect80To443",),
    only_with_domain=True,
    only_with_workloads=("api",),
    reason=(
        "The port-80 listener only redirects to HTTPS, the redirection the packs ask for "
        "(ALBHttpToHttpsRedirection): it serves nothing and needs no certificate."
    ),
)
SINGLE_AZ_DATABASE_IN_PACKS = PackAcknowledgement(
    rule="RDSMultiAZSupport",
    paths=("Datastore/Database/Instance",),
    packs=NIST_AND_HIPAA,
    only_sized="small",
    reason=SINGLE_AZ_DATABASE.reason,
)

BOUNDARY_ADMIN_ACCESS = PackAcknowledgement(
    rule="IAMPolicyNoStatementsWithAdminAccess",
    paths=("Identity/PermissionsBoundary",),
    only_with_permissions_boundary=True,
    reason=_BOUNDARY_REASON,
)
BOUNDARY_FULL_ACCESS = PackAcknowledgement(
    rule="IAMPolicyNoStatementsWithFullAccess",
    paths=("Identity/PermissionsBoundary",),
    only_with_permissions_boundary=True,
    reason=_BOUNDARY_REASON,
)

PACK_ACKNOWLEDGEMENTS = (
    INLINE_POLICIES,
    PUBLIC_SUBNET_ROUTES,
    ACCESS_LOG_BUCKET_LOGGING,
    ACCESS_LOG_BUCKET_KMS,
    ACCESS_LOG_BUCKET_REPLICATION,
    HTTP_WITHOUT_DOMAIN,
    CERTIFICATE_WITHOUT_DOMAIN,
    REDIRECT_LISTENER,
    SINGLE_AZ_DATABASE_IN_PACKS,
    BOUNDARY_ADMIN_ACCESS,
    BOUNDARY_FULL_ACCESS,
)

# The most entries of each compliance pack's table one environment may carry (an entry counts
# once however many constructs it names). Raise one only with a reviewer.
PACK_BUDGETS: dict[CompliancePack, int] = {
    # Each +2 for the permissions boundary (a ceiling the packs read as a grant), 2026-12-07.
    "nist-800-53-r5": 10,
    "hipaa": 10,
    "pci-dss": 9,
}


def pack_acknowledgements(packs: tuple[CompliancePack, ...]) -> tuple[Acknowledgement, ...]:
    """The entries the chosen packs' findings are acknowledged from, one per pack and row."""
    return tuple(
        row.for_pack(pack) for row in PACK_ACKNOWLEDGEMENTS for pack in packs if pack in row.packs
    )


def _applies_to(ack: Acknowledgement | PackAcknowledgement) -> str:
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
    if ack.only_with_drift_detection:
        return "every environment, with the drift check"
    if ack.only_with_permissions_boundary:
        return "every environment, with the permissions boundary"
    if isinstance(ack, Acknowledgement) and ack.only_with_backup_plan:
        return "environments whose database has a backup plan"
    if isinstance(ack, Acknowledgement) and ack.only_with_cache_token_rotation is not None:
        return (
            "every environment, "
            + ("with" if ack.only_with_cache_token_rotation else "without")
            + " the Redis AUTH token's rotation"
        )
    if ack.only_with_domain is True:
        return "environments with a domain (production)"
    if ack.only_with_domain is False:
        return "environments without a domain (dev, staging)"
    if workloads:
        return f"every environment, with the {workloads} workload"
    return "every environment"


def markdown() -> str:
    """``docs/security-acknowledgements.md``: the tables, for reviewers."""
    rows = "\n".join(
        f"| `{ack.validation_id}` | {ack.construct} | {_applies_to(ack)} | {ack.reason} |"
        for ack in ACKNOWLEDGEMENTS
    )
    pack_rows = "\n".join(
        f"| `{row.rule}` | {', '.join(f'`{pack}`' for pack in row.packs)} | {row.construct} "
        f"| {_applies_to(row)} | {row.reason} |"
        for row in PACK_ACKNOWLEDGEMENTS
    )
    budgets = ", ".join(f"`{pack}` **{budget}**" for pack, budget in PACK_BUDGETS.items())
    return f"""# Security acknowledgements

Every synth runs cdk-nag's AwsSolutions pack (and CDK's own CloudFormation rules), and the
compliance packs chosen in `compliance_packs`, and fails on any finding that is neither fixed
nor acknowledged. Findings are fixed in the constructs wherever a fix is reasonable; these are
the only ones acknowledged. Each sits on the narrowest construct and is applied from one table,
`{__package__}/acknowledgements.py`.

A test (`tests/test_policy.py`) keeps this page, the table and the synthesized app in step, and
keeps the number of entries applied per environment at or below the budget: **{BUDGET}** for
AwsSolutions and CloudFormation (an entry on each workload's task counts once); per compliance
pack, {budgets}.
Raising a budget, or adding a row, needs a security reviewer.

| Finding | Construct | Applies to | Reason |
| --- | --- | --- | --- |
{rows}

## Compliance packs

A pack's finding id is `<pack>::<pack>-<rule>`, with the pack's name as cdk-nag reports it:
`NIST.800.53.R5`, `HIPAA.Security`, `PCI.DSS.321`. Each row applies only to the packs it names
that the service chose, to each construct listed.

| Rule | Packs | Construct | Applies to | Reason |
| --- | --- | --- | --- | --- |
{pack_rows}
"""


if __name__ == "__main__":
    print(markdown(), end="")
