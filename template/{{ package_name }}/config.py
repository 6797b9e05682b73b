"""Typed configuration: what every environment is, as frozen dataclasses.

The values come from ``environments.py`` (rendered from the template's answers); nothing
here reads the process environment or calls AWS.
"""

import keyword
import re
import zoneinfo
from dataclasses import dataclass
from typing import Literal

from aws_cdk import aws_logs as logs

from .packs import CompliancePack
from .sizing import Sizing

# The processor the service's tasks run on: AWS Graviton (arm64) or Intel/AMD (x86_64). The
# task definition and the image it runs are built for it (compute.PLATFORMS).
CpuArchitecture = Literal["arm64", "x86_64"]
# What the service runs, all from one image: an HTTP API behind the load balancer, a worker
# that consumes the service's SQS queue, and jobs EventBridge Scheduler starts on a schedule.
Workload = Literal["api", "worker", "scheduled_job"]
# The construct id of the API load balancer's port-80 listener: CDK's redirect to HTTPS with a
# domain, a plain forward without one (workloads/load_balancer.py).
Port80Listener = Literal["Http", "Redirect80To443"]
WORKLOADS: tuple[Workload, ...] = ("api", "worker", "scheduled_job")
# EventBridge Scheduler's recurring expressions (the template's questions check the same).
_CRON = re.compile(r"cron\((\S+ ){5}\S+\)")
# Each cron field's values: minutes, hours, day of month, month, day of week, year.
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))
_RATE = re.compile(r"rate\((?P<value>[1-9][0-9]*) (minute|hour|day)(?P<plural>s?)\)")
_JOB_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True, kw_only=True)
class GithubConfig:
    """The repository whose workflows may deploy, and how its OIDC provider is provided."""

    repository: str
    # The immutable numeric ids GitHub puts in the `sub` claim of repositories created or
    # renamed since July 2026 (and older ones that opted in); None for the legacy format.
    owner_id: str | None
    repository_id: str | None
    import_oidc_provider: bool
    enable_pr_diff: bool
    # A scheduled workflow detects drift in every environment through a read-only role of its
    # own (drift.py, .github/workflows/drift.yml) and keeps one issue per drifted environment.
    enable_drift_detection: bool = False

    def __post_init__(self) -> None:
        if (self.owner_id is None) != (self.repository_id is None):
            raise ValueError("give both GitHub ids (immutable subjects) or neither (legacy)")

    @property
    def subject_prefix(self) -> str:
        """What every `sub` claim of this repository's OIDC tokens starts with."""
        if self.owner_id is None:
            return f"repo:{self.repository}"
        owner, name = self.repository.split("/", 1)
        return f"repo:{owner}@{self.owner_id}/{name}@{self.repository_id}"


@dataclass(frozen=True, kw_only=True)
class DomainConfig:
    """A public name for the production load balancer, served over HTTPS."""

    domain_name: str
    hosted_zone_id: str
    hosted_zone_name: str


@dataclass(frozen=True, kw_only=True)
class ScheduledJobConfig:
    """One job EventBridge Scheduler runs on a schedule: ``python -m app.jobs.<name>`` from the
    service's image, as a task of its own. Add one entry per job to ``ServiceConfig``."""

    # The module under service/app/jobs/, and the name of the job's resources.
    name: str
    # cron(minutes hours day-of-month month day-of-week year), ? in one of the day fields, or
    # rate(<n> minute[s]|hour[s]|day[s]), evaluated in `timezone`.
    schedule: str
    # UTC: no daylight-saving jumps (in a zone with DST, a cron job whose time the spring
    # change skips does not run that day; the autumn change runs it once, not twice: the
    # EventBridge Scheduler guide), and the logs and metrics are in UTC too. Any IANA name works.
    timezone: str = "UTC"
    # False pauses the schedule on the next deploy (README: "Runbook").
    enabled: bool = True

    def __post_init__(self) -> None:
        if not _JOB_NAME.fullmatch(self.name) or keyword.iskeyword(self.name):
            raise ValueError(f"job name {self.name!r}: a Python module name, a-z 0-9 _")
        rate = _RATE.fullmatch(self.schedule)
        if rate is None and not _CRON.fullmatch(self.schedule):
            raise ValueError(f"job {self.name}: {self.schedule!r} is not cron(...) or rate(...)")
        if rate is not None and (rate["value"] == "1") == (rate["plural"] == "s"):
            raise ValueError(f"job {self.name}: rate(1 hour), rate(2 hours), not {self.schedule}")
        if self.schedule.startswith("cron("):
            fields = self.schedule[5:-1].split()
            if fields[2::2][:2].count("?") != 1:
                raise ValueError(f"job {self.name}: ? in exactly one day field of a cron")
            for field, (low, high) in zip(fields, _CRON_RANGES, strict=True):
                # Values, not the increment after / or the n of d#n (names are left alone).
                values = re.findall(r"[0-9]+", re.sub(r"[/#][0-9]+", "", field))
                steps = re.findall(r"/([0-9]+)", field)
                if any(not low <= int(v) <= high for v in values) or any(int(s) < 1 for s in steps):
                    raise ValueError(
                        f"job {self.name}: cron field {field!r} is not in {low}-{high}"
                    )
        # UTC needs no time zone database (Windows has none without the tzdata package).
        if self.timezone != "UTC" and self.timezone not in zoneinfo.available_timezones():
            raise ValueError(f"job {self.name}: unknown time zone {self.timezone!r}")

    @property
    def module(self) -> str:
        """'app.jobs.daily_report': what the job's container runs with `python -m`."""
        return f"app.jobs.{self.name}"

    @property
    def construct_id(self) -> str:
        """'DailyReport': the job's construct id (its resources' logical ids start with it)."""
        return "".join(part.capitalize() for part in self.name.split("_"))


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    """One deployment target: an account, a region and how big it is."""

    name: str
    account: str
    region: str
    # The qualifier of this environment's CDK bootstrap stack: no other environment of the
    # service shares its bootstrap roles.
    cdk_qualifier: str
    # The zones this environment uses: the first of its region's zones (region_zones).
    availability_zones: tuple[str, ...]
    # Every zone the template knows in the region, in order: a zone's place here fixes its
    # subnets' address ranges (network.ADDRESS_PLANS).
    region_zones: tuple[str, ...]
    # Which of network.ADDRESS_PLANS numbers this environment's subnets.
    address_plan: str = "fixed"
    sizing: Sizing
    log_retention: logs.RetentionDays
    domain: DomainConfig | None = None
    # The service's tasks run on Fargate Spot: spare capacity, far cheaper, stopped with two
    # minutes' warning when AWS needs it back (README: "Fargate Spot"). Never production.
    fargate_spot: bool = False
    # The database is copied daily into an AWS Backup vault of its own (backup.py), kept as
    # long as the sizing keeps its automated backups. Every production database of a new
    # service, and every database where a compliance pack is chosen (decision 13).
    backup_plan: bool = False
    # This environment's Identity stack creates the account's GitHub OIDC provider although
    # an environment before it shares the account: it created it before that one joined,
    # and moving it would refuse every GitHub role of the account in between.
    creates_github_oidc_provider: bool = False
    # This environment's Identity stack imports the account's GitHub OIDC provider although
    # it is the account's first: the environment that created it has left the account, and
    # the provider stayed (it is retained; AWS allows one per account).
    imports_github_oidc_provider: bool = False
    # The port-80 listener keeps the construct id it was deployed with when the domain comes
    # or goes (None: by the domain, port_80_listener_id). CloudFormation would create the new
    # listener before deleting the old one, and ELB refuses a second listener on a port.
    port_80_listener: Port80Listener | None = None
    # The minimum retention a locked backup vault was locked with (None: the sizing's). After
    # the lock date AWS Backup refuses any change of it, so a sizing change keeps it.
    backup_vault_lock_days: int | None = None

    def __post_init__(self) -> None:
        if self.region_zones[: len(self.availability_zones)] != self.availability_zones:
            raise ValueError("availability_zones must be the first of region_zones")
        if self.fargate_spot and self.is_production:
            raise ValueError("production never runs on Fargate Spot")
        if self.creates_github_oidc_provider and self.imports_github_oidc_provider:
            raise ValueError(f"{self.name}: creates or imports the GitHub OIDC provider, not both")

    @property
    def port_80_listener_id(self) -> Port80Listener:
        """'Redirect80To443' with a domain, 'Http' without, unless the listener kept another."""
        if self.port_80_listener is not None:
            return self.port_80_listener
        return "Http" if self.domain is None else "Redirect80To443"

    @property
    def backup_lock_days(self) -> int:
        """A locked vault's minimum retention: the one it was locked with, else the sizing's."""
        return self.backup_vault_lock_days or self.sizing.database_backup_retention_days

    @property
    def backup_retention_days(self) -> int:
        """How long each AWS Backup copy is kept: the sizing's, and never less than a locked
        vault's minimum (a shorter job would fail)."""
        return max(self.sizing.database_backup_retention_days, self.backup_lock_days)

    @property
    def is_production(self) -> bool:
        return self.name == "prod"

    @property
    def pascal_name(self) -> str:
        return self.name.capitalize()


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """The service and every environment it is deployed to, in deploy order."""

    name: str
    stack_prefix: str
    cdk_qualifier: str
    health_check_path: str
    github: GithubConfig
    environments: tuple[EnvironmentConfig, ...]
    # Subscribed to every environment's alarm topic; None for no email subscription.
    alarm_email: str | None = None
    # ECS Exec: operators may open a shell in a running task (README: "Runbook").
    enable_ecs_exec: bool = False
    # What the tasks run on, and what the image is built for. x86_64 is what services
    # rendered before the question ran; environments.py states it either way.
    cpu_architecture: CpuArchitecture = "x86_64"
    # What runs: the API alone is what services rendered before the question ran.
    workloads: tuple[Workload, ...] = ("api",)
    # With "scheduled_job": one entry per job (python -m app.jobs.<name>).
    scheduled_jobs: tuple[ScheduledJobConfig, ...] = ()
    # The sample service's readiness path: never reachable through the load balancer.
    readiness_path: str = "/ready"
    container_port: int = 8080
    # Non-default ports: one less thing an automated scan of the VPC can guess.
    database_port: int = 5433
    cache_port: int = 6380
    database_name: str = "app"
    # A Lambda function rotates the Redis AUTH token every 30 days with ElastiCache's ROTATE
    # strategy (cache_token_rotation.py); the tasks are rolled onto the new token and the old
    # one stops working at the next rotation. False is what services rendered before ran.
    cache_token_rotation: bool = False
    # cdk-nag packs checked on every synth beside AwsSolutions; what they find is fixed in the
    # constructs or acknowledged in acknowledgements.py (PACK_ACKNOWLEDGEMENTS).
    compliance_packs: tuple[CompliancePack, ...] = ()
    # Every backup vault is locked in compliance mode (AWS Backup Vault Lock) after a grace
    # period (backup.py): no one can delete a copy early, shorten its retention or unlock it.
    backup_vault_lock: bool = False
    # Every role of the Network, Datastore and Compute stacks carries the permissions boundary
    # the Identity stack creates, and the execution policy refuses a role without it
    # (permissions_boundary.py). False is what services rendered before ran.
    permissions_boundary: bool = False

    def __post_init__(self) -> None:
        if not self.workloads or len(set(self.workloads)) != len(self.workloads):
            raise ValueError(f"workloads: one or more of {', '.join(WORKLOADS)}, each once")
        if ("scheduled_job" in self.workloads) != bool(self.scheduled_jobs):
            raise ValueError("scheduled jobs are configured exactly when 'scheduled_job' runs")
        names = [job.name for job in self.scheduled_jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"scheduled job names must differ: {', '.join(names)}")
        bootstraps = [(env.account, env.cdk_qualifier) for env in self.environments]
        if len(set(bootstraps)) != len(bootstraps):
            # One environment's deploy role could then use another's bootstrap roles.
            raise ValueError(f"each environment needs its own bootstrap stack: {bootstraps}")
        for account in {env.account for env in self.environments}:
            creators = [
                env.name
                for env in self.environments
                if env.account == account and env.creates_github_oidc_provider
            ]
            if len(creators) > 1:
                raise ValueError(f"one GitHub OIDC provider per account: {creators} in {account}")
        if self.compliance_packs:
            self._check_compliance_prerequisites()

    def _check_compliance_prerequisites(self) -> None:
        """What the packs ask of every environment, and what no reviewer would acknowledge."""
        without_backups = [env.name for env in self.environments if not env.backup_plan]
        if without_backups:
            raise ValueError(f"compliance packs need every database backed up: {without_backups}")
        if not self.cache_token_rotation:
            raise ValueError("compliance packs need the Redis AUTH token rotated")
        # Only the API has a load balancer, and so a listener that must serve HTTPS.
        if self.runs("api") and any(
            env.is_production and env.domain is None for env in self.environments
        ):
            raise ValueError("compliance packs need HTTPS in production: give it a domain")

    @property
    def has_compliance_packs(self) -> bool:
        """Whether the fixes the packs ask for are built (decision 13 says which)."""
        return bool(self.compliance_packs)

    def runs(self, workload: Workload) -> bool:
        """Whether the service runs this workload (README: "Workloads")."""
        return workload in self.workloads

    def stack_name(self, environment: EnvironmentConfig, phase: str) -> str:
        """'OrdersApi-Prod-Network': the stack id and CloudFormation name of a phase."""
        return f"{self.stack_prefix}-{environment.pascal_name}-{phase}"

    def stacks_arn_pattern(self, environment: EnvironmentConfig) -> str:
        """Every CloudFormation stack of one environment (nested stacks share the prefix)."""
        return (
            f"arn:aws:cloudformation:{environment.region}:{environment.account}:stack/"
            f"{self.stack_prefix}-{environment.pascal_name}-*/*"
        )

    def permissions_boundary_name(self, environment: EnvironmentConfig) -> str:
        """'orders-api-prod-permissions-boundary': the managed policy that caps every role
        the pipeline's stacks create (permissions_boundary.py)."""
        return self.resource_name(environment, "permissions-boundary")

    def permissions_boundary_arn(self, environment: EnvironmentConfig) -> str:
        name = self.permissions_boundary_name(environment)
        return f"arn:aws:iam::{environment.account}:policy/{name}"

    def metric_namespace(self, environment: EnvironmentConfig) -> str:
        """'orders-api/prod': the CloudWatch namespace of the service's own metrics (log
        metric filters), apart per environment even when environments share an account."""
        return f"{self.name}/{environment.name}"

    def resource_name(self, environment: EnvironmentConfig, suffix: str = "") -> str:
        """'orders-api-prod[-suffix]': for the few physical names other systems must know."""
        return "-".join(part for part in (self.name, environment.name, suffix) if part)

    def creates_oidc_provider(self, environment: EnvironmentConfig) -> bool:
        """AWS allows one GitHub OIDC provider per account: one environment of each account
        creates it (unless it already exists), the others import it. That is the account's
        first environment, unless another one says it created it first, or it says it imports
        the provider an environment that has left the account created."""
        if self.github.import_oidc_provider or environment.imports_github_oidc_provider:
            return False
        in_account = [e for e in self.environments if e.account == environment.account]
        creator = next((e for e in in_account if e.creates_github_oidc_provider), in_account[0])
        return creator.name == environment.name
