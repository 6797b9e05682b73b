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
    construct: IConstruct, *acknowledgements: Acknowledgement, resource: str | None = None
) -> None:
    """Acknowledge findings of the table on one construct (about ``resource``, for the
    entries whose finding names one), in one call to the jsii runtime."""
    Validations.of(construct).acknowledge(
        *(
            Acknowledgment(
                id=acknowledgement.validation_id_for(resource), reason=acknowledgement.reason
            )
            for acknowledgement in acknowledgements
        )
    )


def stack_metadata(assembly: Path, stack_name: str) -> dict[str, list[dict[str, object]]]:
    """Each construct's metadata entries in one stack, by construct path, as synthesized in
    ``assembly`` (a synth's output folder): CDK writes them to the cloud assembly, where
    reading them costs no round trip to the jsii runtime (a walk of the construct tree reads
    the same entries with thousands)."""
    artifact = json.loads((assembly / "manifest.json").read_text())["artifacts"][stack_name]
    metadata: dict[str, list[dict[str, object]]] = (
        json.loads((assembly / artifact["additionalMetadataFile"]).read_text())
        if "additionalMetadataFile" in artifact
        else artifact.get("metadata", {})
    )
    return metadata


def applied_acknowledgements(assembly: Path, stack_name: str) -> list[tuple[str, str, str]]:
    """(construct path, finding id, reason) of every acknowledgement in one stack, as
    synthesized in ``assembly``."""
    return [
        (path.removeprefix("/"), finding, reason)
        for path, entries in stack_metadata(assembly, stack_name).items()
        for entry in entries
        if entry["type"] == ACKNOWLEDGED_RULES_METADATA and isinstance(data := entry["data"], dict)
        for finding, reason in data.items()
    ]
