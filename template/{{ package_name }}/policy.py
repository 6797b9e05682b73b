"""The policy gate: cdk-nag's AwsSolutions pack runs on every synth, and beside it the
compliance packs the service chose (NIST 800-53 rev 5, HIPAA Security, PCI DSS 3.2.1).

Findings are fixed in the constructs wherever a fix is reasonable. The few that remain are
acknowledged from one table (``acknowledgements.py``), each on the narrowest construct;
``docs/security-acknowledgements.md`` lists them all.
"""

import json
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
)
from constructs import IConstruct

from .acknowledgements import Acknowledgement
from .packs import CompliancePack

# Where CDK records an acknowledgement on the construct it was applied to.
ACKNOWLEDGED_RULES_METADATA = "aws:cdk:acknowledged-rules"


# cdk-nag 3's class for each pack (cdk_nag; its README: "Available Rules and Packs").
PACK_CHECKS: dict[CompliancePack, type[NagPack]] = {
    "nist-800-53-r5": NIST80053R5Checks,
    "hipaa": HIPAASecurityChecks,
    "pci-dss": PCIDSS321Checks,
}


def add_policy_checks(app: App, *, packs: Sequence[CompliancePack]) -> None:
    """Make `cdk synth` fail on any finding of the AwsSolutions pack, or of a chosen
    compliance pack, that is not acknowledged."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), *(PACK_CHECKS[pack](app) for pack in packs)
    )


def acknowledge(
    construct: IConstruct, acknowledgement: Acknowledgement, *, resource: str | None = None
) -> None:
    """Acknowledge one finding of the table on one construct (about ``resource``, for the
    entries whose finding names one)."""
    Validations.of(construct).acknowledge(
        Acknowledgment(
            id=acknowledgement.validation_id_for(resource), reason=acknowledgement.reason
        )
    )


def applied_acknowledgements(assembly: Path, stack_name: str) -> list[tuple[str, str, str]]:
    """(construct path, finding id, reason) of every acknowledgement in one stack, as synthesized:
    read from the cloud assembly's metadata in ``assembly`` (a synth's output folder), where CDK
    writes each construct's metadata (a walk of the construct tree through the jsii runtime
    reads the same entries, thousands of round trips per environment)."""
    artifact = json.loads((assembly / "manifest.json").read_text())["artifacts"][stack_name]
    metadata: dict[str, list[dict[str, object]]] = (
        json.loads((assembly / artifact["additionalMetadataFile"]).read_text())
        if "additionalMetadataFile" in artifact
        else artifact.get("metadata", {})
    )
    return [
        (path.removeprefix("/"), finding, reason)
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == ACKNOWLEDGED_RULES_METADATA and isinstance(data := entry["data"], dict)
        for finding, reason in data.items()
    ]
