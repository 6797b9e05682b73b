"""Prints every stack's synthesized template of the service in the current folder, as JSON.

Run inside a rendered project (its own environment): `python synth_templates.py [sizing]`.
With a sizing, production is synthesized at that preset instead of its own (its zones follow),
as if the `sizing` answer had changed. No policy gate: only the templates matter here.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from pathlib import Path

import aws_cdk as cdk


def main(arguments: list[str]) -> None:
    answers = Path(".copier-answers.yml").read_text()
    service_name = next(
        line.split(":", 1)[1].strip()
        for line in answers.splitlines()
        if line.startswith("service_name:")
    )
    package = service_name.replace("-", "_")
    service = importlib.import_module(f"{package}.environments").SERVICE
    add_service = importlib.import_module(f"{package}.stages").add_service
    if arguments:
        presets = importlib.import_module(f"{package}.sizing").SIZING_PRESETS
        sizing = presets[arguments[0]]
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
        service = dataclasses.replace(service, environments=environments)
    context = json.loads(Path("cdk.json").read_text())["context"]
    app = cdk.App(context=context)
    add_service(app, service)
    assembly = app.synth()
    json.dump({stack.stack_name: stack.template for stack in assembly.stacks}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
