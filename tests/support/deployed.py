"""What services of past releases deployed: each release's synthesized templates, recorded.

A release never changes: its commit and its lock file fix what its services synthesize, so
what a service of the latest release deployed is the same at every CI run. The update tests
(test_replacement.py, test_upgrade.py) still render each release and update it through the
real CLI; what the service deployed before the update is read from the record made once per
release, instead of a synth in a third aws-cdk-lib environment at every run (about 25 s of
CPU). The previous release locked nothing: a synth at every run took PyPI's newest
aws-cdk-lib, so its result changed with each CDK release; its record keeps the version it was
made with.

A record holds every stack and, in each, the resources of the types the comparisons read
(stateful resources, listeners, ECS services and task definitions, schedules). A test that
renders a case whose release, commit or answers differ from its record fails and says how to
record again. After a release, or after changing a case below:

    uv run python -m tests.support.deployed          # record every case
    uv run python -m tests.support.deployed --check  # synthesize again, compare, write nothing

(`--check` finds the previous release's record changed once PyPI has a newer aws-cdk-lib
that synthesizes it differently: that one follows whatever a team installs.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from .commands import COPIER, LEGACY_COPIER, data_arguments, render, run
from .releases import (
    LATEST_RELEASE,
    LATEST_RELEASE_COMMIT,
    PREVIOUS_RELEASE,
    release_repository,
    tree_at,
)
from .synth import synced_templates
from .template import BASE_ANSWERS, LEGACY_ANSWERS

RECORDS = Path(__file__).resolve().parent.parent / "deployed"

# Resources that hold data, or whose replacement moves what holds data.
STATEFUL_TYPES = {
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBSubnetGroup",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
}
# What the comparisons read besides: the listeners' ports, what runs the tasks and where.
RECORDED_TYPES = STATEFUL_TYPES | {
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::Scheduler::Schedule",
}

Templates = dict[str, dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class DeployedCase:
    """A service of a past release: its answers, and how its team rendered it."""

    name: str
    release: str
    commit: str
    answers: dict[str, Any]
    # The release before 1.0.0 ran Jinja extensions (--trust) and shipped no lock files.
    legacy: bool = False

    def render(self, template: Path, project: Path) -> None:
        """Render the service from a template repository that has the release's tag, and
        commit it."""
        copier, trust = (LEGACY_COPIER, ["--trust"]) if self.legacy else (COPIER, [])
        arguments = [*trust, "--vcs-ref", self.release, *data_arguments(self.answers)]
        render(copier, template, project, *arguments)

    def key(self) -> dict[str, Any]:
        return {"release": self.release, "commit": self.commit, "answers": self.answers}


LATEST_SMALL = DeployedCase(
    "latest-small", LATEST_RELEASE, LATEST_RELEASE_COMMIT, {**BASE_ANSWERS, "sizing": "small"}
)
LATEST_LARGE = DeployedCase(
    "latest-large",
    LATEST_RELEASE,
    LATEST_RELEASE_COMMIT,
    {
        **BASE_ANSWERS,
        "sizing": "large",
        "environments": '["dev", "staging", "prod"]',
        "dev_account_id": "210987654321",
        "staging_account_id": "210987654322",
    },
)
PREVIOUS_MEDIUM = DeployedCase(
    "previous-medium", "0.1.0", PREVIOUS_RELEASE, {**LEGACY_ANSWERS, "sizing": "medium"}, True
)
CASES = (LATEST_SMALL, LATEST_LARGE, PREVIOUS_MEDIUM)


def _reduced(templates: Templates) -> Templates:
    return {
        stack: {
            "Resources": {
                logical_id: resource
                for logical_id, resource in template.get("Resources", {}).items()
                if resource["Type"] in RECORDED_TYPES
            }
        }
        for stack, template in sorted(templates.items())
    }


def deployed_templates(case: DeployedCase) -> Templates:
    """What a service of ``case`` deployed, from its record."""
    path = RECORDS / f"{case.name}.json"
    again = "record it again: uv run python -m tests.support.deployed"
    assert path.is_file(), f"no record of {case.name} ({path}): {again}"
    recorded = json.loads(path.read_text())
    assert {name: recorded[name] for name in case.key()} == case.key(), (
        f"the record of {case.name} is of another release, commit or answers than the tests "
        f"render ({recorded['release']} at {recorded['commit']}): {again}"
    )
    templates: Templates = recorded["templates"]
    return templates


def _synthesized(case: DeployedCase, folder: Path) -> tuple[Templates, str]:
    """The case rendered from its release and synthesized offline, as its team would, with
    the aws-cdk-lib version it ran."""
    template = release_repository(folder, (case.release, tree_at(case.commit)))
    project = folder / "orders-api"
    case.render(template, project)
    templates = synced_templates(project, locked=not case.legacy)
    shown = run(["uv", "pip", "show", "aws-cdk-lib"], project).stdout.splitlines()
    version = next(line.split(":", 1)[1].strip() for line in shown if line.startswith("Version:"))
    return _reduced(templates), version


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.deployed")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    options = parser.parse_args(arguments)
    differing = []
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["TEMPLATE_TESTS_ENVIRONMENTS"] = str(Path(scratch) / "environments")
        os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
        # The rendered project's environment, not this repository's (as tests/conftest.py).
        os.environ.pop("VIRTUAL_ENV", None)
        for case in CASES:
            folder = Path(scratch) / case.name
            folder.mkdir()
            templates, version = _synthesized(case, folder)
            record = {**case.key(), "aws_cdk_lib": version, "templates": templates}
            path = RECORDS / f"{case.name}.json"
            if options.check:
                if not path.is_file() or json.loads(path.read_text()) != record:
                    differing.append(case.name)
                continue
            RECORDS.mkdir(exist_ok=True)
            path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
            print(f"recorded {case.name}: {case.release} at {case.commit}, aws-cdk-lib {version}")
    if differing:
        print(f"records that differ from a new synth: {', '.join(differing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
