"""Every stack's template of a rendered project, offline: synthesized in the project's own
environment by tests/synth_templates.py, or read from what its CDK CLI left in cdk.out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .commands import run
from .environments import uv_sync

SYNTH = Path(__file__).resolve().parent.parent / "synth_templates.py"


def _synth(project: Path, *sizings: str) -> Any:
    command = ["uv", "run", "--no-sync", "python", str(SYNTH), *sizings]
    # Only the templates matter here: aws-cdk-lib's own CloudFormation validation (a rules
    # engine built at every start, then every template again) would double a large synth.
    environment = {**os.environ, "PYTHONPATH": str(project), "CDK_VALIDATION": "false"}
    return json.loads(run(command, project, environment=environment).stdout)


def synthesize(project: Path) -> dict[str, dict[str, Any]]:
    """Every stack's template of a synced project, offline."""
    templates: dict[str, dict[str, Any]] = _synth(project)
    return templates


def synthesize_resized(project: Path, *sizings: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every stack's template of a synced project with production at each sizing, offline,
    in one process."""
    by_sizing: dict[str, dict[str, dict[str, Any]]] = _synth(project, *sizings)
    return by_sizing


def cdk_out_templates(project: Path) -> dict[str, dict[str, Any]]:
    """Every stack's template the CDK CLI last wrote to the project's cdk.out, by stack name."""
    assembly = project / "cdk.out"
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {
        artifact_id: json.loads((assembly / artifact["properties"]["templateFile"]).read_text())
        for artifact_id, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def synced_templates(project: Path, *, locked: bool = True) -> dict[str, dict[str, Any]]:
    """`uv sync` a rendered project (as its lock file says), then synthesize it."""
    uv_sync(project, locked=locked)
    return synthesize(project)
