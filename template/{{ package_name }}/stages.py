"""Composition: the four stacks of each environment, wired in the guide's order."""

from dataclasses import dataclass

from aws_cdk import App, Environment
from aws_cdk import aws_iam as iam

from .compliance import acknowledge_pack_findings
from .compute import ComputeStack
from .config import EnvironmentConfig, ServiceConfig
from .datastore import DatastoreStack
from .identity import IdentityStack
from .network import NetworkStack
from .phase import PhaseSettings
from .state import administrator_synthesizer, bootstrap_synthesizer

PHASES = ("Identity", "Network", "Datastore", "Compute")


@dataclass(frozen=True)
class EnvironmentStacks:
    identity: IdentityStack
    network: NetworkStack
    datastore: DatastoreStack
    compute: ComputeStack


def phase_settings(
    service: ServiceConfig,
    environment: EnvironmentConfig,
    phase: str,
    *,
    description: str,
    termination_protection: bool = False,
) -> PhaseSettings:
    """A phase's stack name and placement, with a synthesizer of its own (one binds to one
    stack): the pipeline deploys every phase but Identity, which an administrator deploys."""
    synthesizer = administrator_synthesizer if phase == "Identity" else bootstrap_synthesizer
    return PhaseSettings(
        stack_name=service.stack_name(environment, phase),
        env=Environment(account=environment.account, region=environment.region),
        synthesizer=synthesizer(environment.cdk_qualifier),
        description=f"{service.name} {environment.name}: {description}",
        termination_protection=termination_protection,
    )


def _datastore_description(service: ServiceConfig) -> str:
    queues = service.runs("worker") or service.runs("scheduled_job")
    return "PostgreSQL, Redis and queues" if queues else "PostgreSQL and Redis"


def _compute_description(service: ServiceConfig) -> str:
    """'load balancer and Fargate service' for the API alone, as before the other workloads."""
    parts = ["load balancer and Fargate service"] if service.runs("api") else []
    if service.runs("worker"):
        parts.append("queue worker")
    if service.runs("scheduled_job"):
        parts.append("scheduled jobs")
    return ", ".join(parts)


def add_environment(
    app: App, *, service: ServiceConfig, environment: EnvironmentConfig
) -> EnvironmentStacks:
    """Add one environment's stacks to the app, each depending on the phase before it."""
    identity = IdentityStack(
        app,
        phase=phase_settings(
            service,
            environment,
            "Identity",
            description="GitHub OIDC and deploy roles",
            termination_protection=True,
        ),
        service=service,
        environment=environment,
    )
    network = NetworkStack(
        app,
        phase=phase_settings(
            service, environment, "Network", description="VPC, subnets, NAT, security groups"
        ),
        service=service,
        environment=environment,
    )
    datastore = DatastoreStack(
        app,
        phase=phase_settings(
            service,
            environment,
            "Datastore",
            description=_datastore_description(service),
            termination_protection=True,
        ),
        service=service,
        environment=environment,
        network=network.network,
    )
    compute = ComputeStack(
        app,
        phase=phase_settings(
            service, environment, "Compute", description=_compute_description(service)
        ),
        service=service,
        environment=environment,
        network=network.network,
        database=datastore.database,
        cache=datastore.cache,
        work_queue=datastore.work_queue,
        job_dead_letters=datastore.job_dead_letters,
    )
    if service.permissions_boundary:
        for stack in (network, datastore, compute):
            # Every role of the stack, CDK's own custom resources' included.
            boundary = iam.ManagedPolicy.from_managed_policy_name(
                stack, "PermissionsBoundary", service.permissions_boundary_name(environment)
            )
            iam.PermissionsBoundary.of(stack).apply(boundary)
    if service.compliance_packs:
        acknowledge_pack_findings(
            {"Identity": identity, "Network": network, "Datastore": datastore, "Compute": compute},
            service=service,
            environment=environment,
        )
    return EnvironmentStacks(
        identity=identity, network=network, datastore=datastore, compute=compute
    )


def add_service(app: App, service: ServiceConfig) -> list[EnvironmentStacks]:
    """Every environment of the service, in deploy order."""
    return [add_environment(app, service=service, environment=env) for env in service.environments]
