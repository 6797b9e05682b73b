"""Composition: the four stacks of each environment, wired in the guide's order."""

from dataclasses import dataclass

from aws_cdk import App, Environment

from .compute import ComputeStack
from .config import EnvironmentConfig, ServiceConfig
from .datastore import DatastoreStack
from .identity import IdentityStack
from .network import NetworkStack
from .state import administrator_synthesizer, bootstrap_synthesizer

PHASES = ("Identity", "Network", "Datastore", "Compute")


@dataclass(frozen=True)
class EnvironmentStacks:
    identity: IdentityStack
    network: NetworkStack
    datastore: DatastoreStack
    compute: ComputeStack


def add_environment(
    app: App, *, service: ServiceConfig, environment: EnvironmentConfig
) -> EnvironmentStacks:
    """Add one environment's stacks to the app, each depending on the phase before it."""
    common = {
        "service": service,
        "environment": environment,
        "env": Environment(account=environment.account, region=environment.region),
    }

    def name(phase: str) -> dict[str, object]:
        """Stack id and name, and a synthesizer of its own (one binds to one stack): the
        pipeline deploys every phase but Identity, which an administrator deploys."""
        stack_name = service.stack_name(environment, phase)
        synthesizer = administrator_synthesizer if phase == "Identity" else bootstrap_synthesizer
        return {
            "construct_id": stack_name,
            "stack_name": stack_name,
            "synthesizer": synthesizer(environment.cdk_qualifier),
        }

    identity = IdentityStack(
        app,
        **name("Identity"),
        **common,
        description=f"{service.name} {environment.name}: GitHub OIDC and deploy roles",
        termination_protection=True,
    )
    network = NetworkStack(
        app,
        **name("Network"),
        **common,
        description=f"{service.name} {environment.name}: VPC, subnets, NAT, security groups",
    )
    datastore = DatastoreStack(
        app,
        **name("Datastore"),
        **common,
        network=network.network,
        description=f"{service.name} {environment.name}: PostgreSQL and Redis",
        termination_protection=True,
    )
    compute = ComputeStack(
        app,
        **name("Compute"),
        **common,
        network=network.network,
        database=datastore.database,
        cache=datastore.cache,
        description=f"{service.name} {environment.name}: load balancer and Fargate service",
    )
    return EnvironmentStacks(
        identity=identity, network=network, datastore=datastore, compute=compute
    )


def add_service(app: App, service: ServiceConfig) -> list[EnvironmentStacks]:
    """Every environment of the service, in deploy order."""
    return [add_environment(app, service=service, environment=env) for env in service.environments]
