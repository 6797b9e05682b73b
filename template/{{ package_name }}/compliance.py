"""The compliance packs' findings this service acknowledges, applied to one environment's stacks.

What the packs ask and the template can do is built into the constructs themselves (backup.py,
network.py, database_user.py, datastore.py, compute.py: decision 13 lists them). What remains
is in ``acknowledgements.PACK_ACKNOWLEDGEMENTS``: this module finds each entry's constructs
after the stacks are composed and acknowledges its finding there, for every chosen pack that
reports it, through ``policy.acknowledge`` like every other acknowledgement.
"""

from collections.abc import Mapping
from fnmatch import fnmatchcase

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from .acknowledgements import PACK_ACKNOWLEDGEMENTS, PackAcknowledgement
from .config import EnvironmentConfig, ServiceConfig
from .policy import acknowledge
from .sizing import SIZING_PRESETS


def applies(
    row: PackAcknowledgement, service: ServiceConfig, environment: EnvironmentConfig
) -> bool:
    """Whether the constructs ``row`` names exist, and are found, in ``environment``."""
    return (
        (row.only_sized is None or environment.sizing == SIZING_PRESETS[row.only_sized])
        and (not row.only_with_pr_diff or service.github.enable_pr_diff)
        and (not row.only_shifting_traffic or environment.sizing.shifts_traffic)
        and (not row.only_with_ecs_exec or service.enable_ecs_exec)
        and (not row.only_with_drift_detection or service.github.enable_drift_detection)
        and (not row.only_with_permissions_boundary or service.permissions_boundary)
        and (
            row.only_with_domain is None or row.only_with_domain == (environment.domain is not None)
        )
        and (
            not row.only_with_workloads
            or any(workload in service.workloads for workload in row.only_with_workloads)
        )
    )


def constructs_at(stacks: Mapping[str, Stack], path: str) -> list[IConstruct]:
    """The constructs at '<Phase>/<path in its stack>': '*' stands for part of one segment;
    '**/DefaultPolicy' for every role's default policy in the stack, at any depth.

    Each step asks the jsii runtime for one construct's child or children, never for every
    construct's path: a round trip each, and a stack has hundreds of constructs."""
    phase, relative = path.split("/", 1)
    stack = stacks[phase]
    if relative == "**/DefaultPolicy":
        # A construct's class is known without a round trip; only policies' ids are read.
        return [
            construct
            for construct in stack.node.find_all()
            if isinstance(construct, iam.Policy) and construct.node.id == "DefaultPolicy"
        ]
    if "**" in relative:
        raise ValueError(f"{path}: '**' stands only in '<Phase>/**/DefaultPolicy'")
    found: list[IConstruct] = [stack]
    for segment in relative.split("/"):
        found = [child for parent in found for child in _children_matching(parent, segment)]
    return found


def _children_matching(parent: IConstruct, segment: str) -> list[IConstruct]:
    if not any(character in segment for character in "*?["):
        child = parent.node.try_find_child(segment)
        return [] if child is None else [child]
    return [child for child in parent.node.children if fnmatchcase(child.node.id, segment)]


# Where the table finds the API's port-80 listener, by the id a new load balancer gives it.
PORT_80_LISTENERS = "Compute/LoadBalancer/Alb/"


def _kept_listener(path: str, environment: EnvironmentConfig) -> str:
    """The table names the port-80 listener as a new load balancer has it ('Http' without a
    domain, 'Redirect80To443' with one); one that kept its id when the domain changed
    (EnvironmentConfig.port_80_listener) is found under that id."""
    if path in (f"{PORT_80_LISTENERS}Http", f"{PORT_80_LISTENERS}Redirect80To443"):
        return f"{PORT_80_LISTENERS}{environment.port_80_listener_id}"
    return path


def acknowledge_pack_findings(
    stacks: Mapping[str, Stack], *, service: ServiceConfig, environment: EnvironmentConfig
) -> None:
    """Acknowledge, for each chosen pack, every table entry that applies to ``environment``."""
    for row in PACK_ACKNOWLEDGEMENTS:
        packs = [pack for pack in service.compliance_packs if pack in row.packs]
        if not packs or not applies(row, service, environment):
            continue
        for path in row.paths:
            found = constructs_at(stacks, _kept_listener(path, environment))
            if not found:
                raise LookupError(f"{row.rule}: nothing at {path} in {environment.name}")
            for construct in found:
                acknowledge(construct, *(row.for_pack(pack) for pack in packs))
