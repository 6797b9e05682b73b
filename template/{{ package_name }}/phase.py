"""What the composition (``stages.py``) gives every stack of an environment: its name, where
it deploys, how it is deployed, and whether deleting it needs a deliberate act."""

from dataclasses import dataclass

from aws_cdk import Environment, IStackSynthesizer, Stack
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class PhaseSettings:
    """One phase's stack of one environment (``OrdersApi-Prod-Network``)."""

    # The construct id and the CloudFormation name: the same, and never changed (the
    # stack's resources are addressed by it).
    stack_name: str
    env: Environment
    synthesizer: IStackSynthesizer
    description: str
    # Stacks that hold state or identity are protected from a `delete-stack` by mistake.
    termination_protection: bool = False


class PhaseStack(Stack):
    """A stack placed as its ``PhaseSettings`` say."""

    def __init__(self, scope: Construct, *, phase: PhaseSettings) -> None:
        super().__init__(
            scope,
            phase.stack_name,
            stack_name=phase.stack_name,
            env=phase.env,
            synthesizer=phase.synthesizer,
            description=phase.description,
            termination_protection=phase.termination_protection,
        )
