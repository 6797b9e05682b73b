"""cdk-nag forced on from outside the app: small and large renders have no finding left
unacknowledged (the large one, which chose them, under the NIST 800-53 rev 5, HIPAA Security and
PCI DSS 3.2.1 packs too), and the gate really fails when an acknowledgement goes missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import synced

# Builds the app without app.py (and its add_policy_checks) and adds the pack itself.
FORCED_PACK = """
import json, sys
from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from orders_api import policy
from orders_api.environments import SERVICE
from orders_api.stages import add_service

if sys.argv[1] == "without-acknowledgements":
    # Every acknowledgement of the app goes through policy.acknowledge, to Validations.
    class Unacknowledged:
        @staticmethod
        def of(construct):
            return Unacknowledged()

        def acknowledge(self, *acknowledgements):
            pass

    policy.Validations = Unacknowledged
app = App(context=json.load(open("cdk.json"))["context"])
add_service(app, SERVICE)
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
if sys.argv[1] == "every-pack":
    Validations.of(app).add_plugins(
        NIST80053R5Checks(app), HIPAASecurityChecks(app), PCIDSS321Checks(app)
    )
app.synth()
print("synthesized")
"""


def _synth(project: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["uv", "run", "--no-sync", "python", "-c", FORCED_PACK, mode],
        cwd=synced(project),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    ("fixture", "mode"), [("default_project", "as-rendered"), ("large_project", "every-pack")]
)
def test_forced_pack_finds_nothing_unacknowledged(
    fixture: str, mode: str, request: pytest.FixtureRequest
) -> None:
    result = _synth(request.getfixturevalue(fixture), mode)
    assert result.returncode == 0, result.stderr
    assert "synthesized" in result.stdout


def test_gate_fails_without_the_acknowledgements(default_project: Path) -> None:
    result = _synth(default_project, "without-acknowledgements")
    assert result.returncode != 0
    for finding in ("AwsSolutions-S1", "AwsSolutions-EC23", "AwsSolutions-IAM5"):
        assert finding in result.stdout + result.stderr, finding
