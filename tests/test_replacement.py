"""No update replaces a stateful resource.

What CloudFormation does to a deployed stack follows from the two templates: a resource whose
logical id disappears is deleted, and one whose create-only property changes is replaced (the
resource schemas cfn-lint ships list those properties per type). The tests compare every
stateful resource of what a service deploys before and after an update (before: what the
release's services deployed, recorded once per release in tests/deployed; after: synthesized
from the updated service):
- a service of the previous release (medium, its subnets numbered as that release numbered
  them), edited by its team and updated to this release through the real CLI, growing to large
  on the way: tests/test_upgrade.py (the templates its own scripts/check left in cdk.out);
- a service of the latest release as it shipped (small, and large with three environments),
  updated to this tree with copier alone, as Renovate and `fleet` do: it keeps the x86 tasks
  and on-demand capacity it ran, and the API alone; then the large one opts into Graviton,
  Fargate Spot and the two other workloads (`--data cpu_architecture=arm64 --data
  spot_in_non_production=true --data 'workloads=[api, worker, scheduled_job]'`): its queues
  and jobs are added beside the API, whose ECS service is updated in place; the small one
  adopts the three compliance packs (and a domain): backups, rotation and encryption are
  added or updated in place;
- this release's small sizing, then medium, then large (a changed `sizing` answer). Going down
  removes the third zone's subnets, and is documented as a move that needs a plan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.data import schemas

from .support.commands import COPIER, commit, data_arguments, run
from .support.deployed import LATEST_LARGE, LATEST_SMALL, STATEFUL_TYPES, deployed_templates
from .support.environments import synced
from .support.projects import CONFLICT
from .support.releases import NEXT_RELEASE
from .support.synth import synced_templates, synthesize_resized
from .support.template import BASE_ANSWERS


def _create_only_properties(resource_type: str, region: str) -> list[str]:
    """The properties whose change replaces a resource, from the CloudFormation schemas."""
    directory = Path(schemas.__file__).parent
    providers = json.loads((directory / "providers" / f"{region}.json").read_text())
    schema = json.loads((directory / "resources" / f"{providers[resource_type]}.json").read_text())
    return [path.removeprefix("/properties/") for path in schema.get("createOnlyProperties", [])]


def _stateful(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resources = template.get("Resources", {})
    return {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"] in STATEFUL_TYPES
        # Log groups only matter when something outside knows their name.
        and (resource["Type"] != "AWS::Logs::LogGroup" or "LogGroupName" in resource["Properties"])
    }


def _listeners(template: dict[str, Any]) -> dict[Any, str]:
    """The load balancer listeners of a template: port -> logical id."""
    return {
        resource["Properties"]["Port"]: logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
    }


def replacements(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], region: str
) -> list[str]:
    """What deploying ``after`` over ``before`` would delete or replace, stack by stack, and
    the listeners it would create on a port one already holds: CloudFormation creates the new
    resource before it deletes the old one, and ELB refuses a second listener on a port."""
    found = []
    for stack, template in before.items():
        new_resources = after.get(stack, {}).get("Resources", {})
        new_listeners = _listeners(after.get(stack, {}))
        for port, logical_id in _listeners(template).items():
            if new_listeners.get(port, logical_id) != logical_id:
                found.append(f"{stack}/{logical_id}: port {port} moves to {new_listeners[port]}")
        for logical_id, resource in _stateful(template).items():
            where = f"{stack}/{logical_id} ({resource['Type']})"
            new = new_resources.get(logical_id)
            if new is None or new["Type"] != resource["Type"]:
                found.append(f"{where}: removed")
                continue
            for name in _create_only_properties(resource["Type"], region):
                old_value = resource.get("Properties", {}).get(name)
                new_value = new.get("Properties", {}).get(name)
                if old_value != new_value:
                    found.append(f"{where}: {name} {old_value!r} -> {new_value!r}")
    return found


# What an existing service re-answers to run on Graviton, on Spot outside production, and a
# worker and a scheduled job beside its API.
OPT_IN = {
    "cpu_architecture": "arm64",
    "spot_in_non_production": "true",
    "workloads": "[api, worker, scheduled_job]",
}
# What a regulated team re-answers to adopt every compliance pack; the packs ask an API for
# HTTPS in production, so the service gets its domain too.
# What a team adopts on an existing service: the three packs (with a domain), and the
# permissions boundary on every role of the pipeline's stacks.
ADOPT_PACKS = {
    "compliance_packs": "[nist-800-53-r5, hipaa, pci-dss]",
    "domain_name": "orders.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "permissions_boundary": "true",
}


def _compute(templates: dict[str, dict[str, Any]]) -> dict[str, tuple[str, list[str] | None]]:
    """Each Compute stack's task processor and the capacity providers its services and job
    schedules name (None: the FARGATE launch type), the same for every workload."""
    found = {}
    for stack, template in templates.items():
        resources = template.get("Resources", {}).values()
        tasks = [r for r in resources if r["Type"] == "AWS::ECS::TaskDefinition"]
        if not tasks:
            continue
        (architecture,) = {t["Properties"]["RuntimePlatform"]["CpuArchitecture"] for t in tasks}
        runners = [r["Properties"] for r in resources if r["Type"] == "AWS::ECS::Service"] + [
            r["Properties"]["Target"]["EcsParameters"]
            for r in resources
            if r["Type"] == "AWS::Scheduler::Schedule"
        ]
        capacities = set()
        for runner in runners:
            strategy = runner.get("CapacityProviderStrategy")
            assert (strategy is None) == (runner.get("LaunchType") == "FARGATE"), stack
            capacities.add(
                None if strategy is None else tuple(item["CapacityProvider"] for item in strategy)
            )
        (capacity,) = capacities
        found[stack] = (architecture, None if capacity is None else list(capacity))
    return found


def _workloads(templates: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    """Each Compute stack's ECS services, task definitions and job schedules, counted."""
    return {
        stack: tuple(
            sum(r["Type"] == kind for r in template["Resources"].values())
            for kind in (
                "AWS::ECS::Service",
                "AWS::ECS::TaskDefinition",
                "AWS::Scheduler::Schedule",
            )
        )
        for stack, template in templates.items()
        if stack.endswith("-Compute")
    }


def _service_replacements(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], region: str
) -> list[str]:
    """ECS services that deploying ``after`` would recreate: a new service (and its tasks)
    beside the old one, not a deployment of the same service."""
    found = []
    create_only = _create_only_properties("AWS::ECS::Service", region)
    for stack, template in before.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::ECS::Service":
                continue
            new = after[stack]["Resources"].get(logical_id)
            if new is None:
                found.append(f"{stack}/{logical_id}: removed")
                continue
            for name in create_only:
                if resource["Properties"].get(name) != new["Properties"].get(name):
                    found.append(f"{stack}/{logical_id}: {name}")
    return found


def _count(templates: dict[str, dict[str, Any]], resource_type: str) -> int:
    return sum(
        r["Type"] == resource_type
        for template in templates.values()
        for r in template["Resources"].values()
    )


def conflicted_files(project: Path) -> list[str]:
    """Files of the last update left with conflict markers, or a rejected hunk beside them."""
    # The files the update left (a release may delete some: those hold no markers).
    changed = run(["git", "diff", "--name-only", "--diff-filter=d"], project).stdout.split()
    found = [name for name in changed if CONFLICT.search((project / name).read_text())]
    return found + [str(path) for path in project.rglob("*.rej")]


def test_the_check_sees_a_replacement() -> None:
    # Protects: the comparison itself; a subnet moved to another range is a replacement.
    subnet = {"Type": "AWS::EC2::Subnet", "Properties": {"CidrBlock": "10.0.48.0/24"}}
    moved = {"Type": "AWS::EC2::Subnet", "Properties": {"CidrBlock": "10.0.64.0/24"}}
    before = {"Network": {"Resources": {"Subnet": subnet}}}
    assert replacements(before, {"Network": {"Resources": {"Subnet": moved}}}, "us-east-1") == [
        "Network/Subnet (AWS::EC2::Subnet): CidrBlock '10.0.48.0/24' -> '10.0.64.0/24'"
    ]
    assert replacements(before, {"Network": {"Resources": {}}}, "us-east-1") == [
        "Network/Subnet (AWS::EC2::Subnet): removed"
    ]


@pytest.mark.cost(12)
def test_sizing_changes_replace_nothing(default_project: Path) -> None:
    resized = synthesize_resized(synced(default_project), "small", "medium", "large")
    small, medium, large = resized["small"], resized["medium"], resized["large"]
    region = BASE_ANSWERS["aws_region"]
    for change, before, after in (
        ("small -> medium", small, medium),
        ("medium -> large", medium, large),
    ):
        assert replacements(before, after, region) == [], change


@pytest.mark.parametrize(
    "sizing",
    [
        pytest.param("small", marks=pytest.mark.cost(28)),
        pytest.param("large", marks=pytest.mark.cost(40)),
    ],
)
def test_updating_from_the_latest_release_replaces_nothing(
    shipped_releases: Path, tmp_path: Path, sizing: str
) -> None:
    # Protects: a service of the latest release takes this tree with copier alone (no --trust:
    # no migration lies between them), with no conflict in an unedited repository, and its
    # deployed stacks keep every stateful resource.
    project = tmp_path / "orders-api"
    case = LATEST_LARGE if sizing == "large" else LATEST_SMALL
    answers = case.answers
    case.render(shipped_releases, project)
    # What it deployed: the release's templates, recorded when it was cut (support/deployed).
    before = deployed_templates(case)
    environments = 3 if sizing == "large" else 1
    assert len([stack for stack in before if stack.endswith("Datastore")]) == environments
    run([*COPIER, "update", "--skip-answered", "--defaults"], project)
    assert f"_commit: {NEXT_RELEASE}" in (project / ".copier-answers.yml").read_text()
    assert run(["git", "diff", "--name-only"], project).stdout.split(), "the update changed nothing"
    assert conflicted_files(project) == []
    after = synced_templates(project)
    assert set(before) == set(after)
    assert replacements(before, after, answers["aws_region"]) == []
    # The questions added since keep what the service runs: x86 tasks, on-demand capacity.
    updated = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert updated["cpu_architecture"] == "x86_64"
    assert updated.get("spot_in_non_production", False) is False
    assert updated["workloads"] == ["api"]
    assert set(_workloads(after).values()) == {(1, 1, 0)}
    assert _compute(after) == _compute(before)
    assert {platform for platform, _ in _compute(after).values()} == {"X86_64"}
    if sizing == "small":
        # The team then adopts the three compliance packs: what they ask (a backup plan, the
        # Redis token's rotation, encryption and logging, deletion protection) is added beside
        # or updated in place; no stateful resource, no ECS service is replaced.
        commit(project, "template update")
        adopt = [*COPIER, "update", "--skip-answered", "--defaults", *data_arguments(ADOPT_PACKS)]
        run(adopt, project)
        regulated = synced_templates(project)
        assert replacements(after, regulated, answers["aws_region"]) == []
        assert _service_replacements(after, regulated, answers["aws_region"]) == []
        assert _count(after, "AWS::IAM::ManagedPolicy") == 0
        assert _count(regulated, "AWS::IAM::ManagedPolicy") == environments  # the boundaries
        assert _count(after, "AWS::Backup::BackupPlan") == 0
        assert _count(regulated, "AWS::Backup::BackupPlan") == environments
        assert not conflicted_files(project)
        return

    # Opting in, on a branch, re-answers three questions: the tasks move to arm64 (a new task
    # definition), dev and staging to Fargate Spot (an update of the service in place), and a
    # worker and a scheduled job join the API: their queues are new resources, the API's
    # service and every stateful resource stay.
    commit(project, "template update")
    run([*COPIER, "update", "--skip-answered", "--defaults", *data_arguments(OPT_IN)], project)
    opted = synced_templates(project)
    assert replacements(after, opted, answers["aws_region"]) == []
    assert _service_replacements(after, opted, answers["aws_region"]) == []
    assert _compute(opted) == {
        stack: ("ARM64", None if stack.endswith("-Prod-Compute") else ["FARGATE_SPOT"])
        for stack in _compute(after)
    }
    assert set(_workloads(opted).values()) == {(2, 3, 1)}
    queues = [
        r
        for stack, template in opted.items()
        if stack.endswith("-Datastore")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue"
    ]
    assert len(queues) == 3 * 3  # per environment: the work queue, its dead letters, the jobs'
    assert not conflicted_files(project)
