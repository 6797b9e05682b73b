"""Prints every stack's synthesized template of the service in the current folder, as JSON.

Run inside a rendered project (its own environment): `python synth_templates.py [sizing ...]`.
With sizings, production is synthesized at each preset instead of its own (its zones follow),
as if the `sizing` answer had changed, and the output maps each sizing to its templates: one
process (one jsii runtime) synthesizes them all. No policy gate: only the templates matter.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk


def _templates(service: Any, add_service: Any, context: dict[str, Any]) -> dict[str, Any]:
    app = cdk.App(context=context)
    add_service(app, service)
    assembly = app.synth()
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def _resized(service: Any, sizing: Any) -> Any:
    """The service with production at another sizing preset (and that preset's zones)."""
    environments = tuple(
        dataclasses.replace(
            environment,
            sizing=sizing,
            availability_zones=environment.region_zones[: sizing.availability_zones],
        )
        if environment.is_production
        else environment
        for environment in service.environments
    )
    return dataclasses.replace(service, environments=environments)


def main(sizings: list[str]) -> None:
    answers = Path(".copier-answers.yml").read_text()
    service_name = next(
        line.split(":", 1)[1].strip()
        for line in answers.splitlines()
        if line.startswith("service_name:")
    )
    package = service_name.replace("-", "_")
    service = importlib.import_module(f"{package}.environments").SERVICE
    add_service = importlib.import_module(f"{package}.stages").add_service
    context = json.loads(Path("cdk.json").read_text())["context"]
    if not sizings:
        json.dump(_templates(service, add_service, context), sys.stdout)
        return
    presets = importlib.import_module(f"{package}.sizing").SIZING_PRESETS
    json.dump(
        {
            sizing: _templates(_resized(service, presets[sizing]), add_service, context)
            for sizing in sizings
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
