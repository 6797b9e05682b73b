"""The policy gate: cdk-nag's AwsSolutions pack runs on every synth.

Findings are fixed in the constructs wherever a fix is reasonable. The few that remain are
acknowledged from one table (``acknowledgements.py``), each on the narrowest construct;
``docs/security-acknowledgements.md`` lists them all.
"""

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from .acknowledgements import Acknowledgement

# Where CDK records an acknowledgement on the construct it was applied to.
ACKNOWLEDGED_RULES_METADATA = "aws:cdk:acknowledged-rules"


def add_policy_checks(app: App) -> None:
    """Make `cdk synth` fail on any finding of the AwsSolutions pack not acknowledged."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


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


def applied_acknowledgements(scope: IConstruct) -> list[tuple[str, str, str]]:
    """(construct path, finding id, reason) of every acknowledgement under ``scope``."""
    return [
        (construct.node.path, finding, reason)
        for construct in scope.node.find_all()
        for entry in construct.node.metadata
        if entry.type == ACKNOWLEDGED_RULES_METADATA
        for finding, reason in entry.data.items()
    ]
