"""The policy gate: cdk-nag's AwsSolutions pack runs on every synth.

Findings are fixed in the constructs wherever a fix is reasonable. The few that remain are
acknowledged here, each on the narrowest construct, naming the exact finding and the reason
a security reviewer can check. ``docs/security-acknowledgements.md`` lists them all.
"""

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_policy_checks(app: App) -> None:
    """Make `cdk synth` fail on any finding of the AwsSolutions pack not acknowledged."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding (e.g. ``AwsSolutions-IAM5[Resource::*]``) on one construct."""
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))
