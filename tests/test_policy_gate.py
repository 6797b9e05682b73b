"""cdk-nag forced on from outside the app: a render has no finding left unacknowledged, and the
gate really fails when an acknowledgement goes missing.

Both synths of the default render run in one process (one jsii runtime). The large render's
own checks synthesize it with its app's gate, which adds every compliance pack to AwsSolutions
(tests/test_template.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .support.environments import synced

# Builds the app without app.py (and its add_policy_checks) and adds the pack itself: first as
# rendered, then with every acknowledgement of the app dropped on its way to Validations.
FORCED_PACK = """
import json
from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks
from orders_api import policy
from orders_api.environments import SERVICE
from orders_api.stages import add_service


def synthesize():
    app = App(context=json.load(open("cdk.json"))["context"])
    add_service(app, SERVICE)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


synthesize()
print("as rendered: synthesized", flush=True)


class Unacknowledged:
    @staticmethod
    def of(construct):
        return Unacknowledged()

    def acknowledge(self, *acknowledgements):
        pass


# Every acknowledgement of the app goes through policy.acknowledge, to Validations.
policy.Validations = Unacknowledged
try:
    synthesize()
except Exception as error:
    print(f"without acknowledgements: refused\\n{error}", flush=True)
else:
    print("without acknowledgements: synthesized", flush=True)
"""


@pytest.mark.cost(16)
def test_forced_pack_passes_as_rendered_and_fails_without_the_acknowledgements(
    default_project: Path,
) -> None:
    result = subprocess.run(
        ["uv", "run", "--no-sync", "python", "-c", FORCED_PACK],
        cwd=synced(default_project),
        # cdk-nag is the gate under test; aws-cdk-lib's own CloudFormation validation (its
        # rules engine, every template again) would double both synths and test nothing here.
        env={**os.environ, "CDK_VALIDATION": "false"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "as rendered: synthesized" in result.stdout, output
    assert "without acknowledgements: refused" in result.stdout, output
    for finding in ("AwsSolutions-S1", "AwsSolutions-EC23", "AwsSolutions-IAM5"):
        assert finding in output, finding
