"""The rendered pipeline: keyless, pinned, serialized, gated, clean under zizmor and shellcheck.

That each role trusts exactly the subject its job presents is proven inside every rendered
project (tests/test_pipeline.py, run by test_template.py against the synthesized stacks).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support.commands import run
from .support.projects import PROJECTS

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
LOCAL = re.compile(r"^\$/\.github/(actions/[\w-]+|workflows/[\w-]+\.yml)$")
EXPRESSION = re.compile(r"\$\{\{")
SCANNER = "aquasecurity/trivy-action@"


def _github_files(project: Path) -> list[Path]:
    return sorted(p for p in (project / ".github").rglob("*.yml"))


def _load(path: Path) -> dict[Any, Any]:
    # YAML 1.1 reads a workflow's key `on` as the boolean True: keys are not all strings.
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def _steps(document: dict[Any, Any]) -> list[dict[str, Any]]:
    if "runs" in document:  # a composite action
        steps: list[dict[str, Any]] = document["runs"]["steps"]
        return steps
    return [step for job in document.get("jobs", {}).values() for step in job.get("steps", [])]


@pytest.fixture(params=PROJECTS)
def project(request: pytest.FixtureRequest) -> Path:
    project: Path = request.getfixturevalue(request.param)
    return project


def test_workflow_files_follow_the_answers(
    default_project: Path, medium_project: Path, large_project: Path
) -> None:
    for project, optional in (
        (default_project, {"diff.yml", "drift.yml"}),
        (medium_project, {"template-update.yml"}),
        (large_project, {"diff.yml", "drift.yml"}),
    ):
        workflows = {p.name for p in (project / ".github" / "workflows").iterdir()}
        assert workflows == {"ci.yml", "deploy.yml"} | optional
    # Forks and Dependabot get no OIDC token: their pull requests skip the diff jobs.
    diff = _load(default_project / ".github" / "workflows" / "diff.yml")
    for job in diff["jobs"].values():
        assert "head.repo.full_name == github.repository" in job["if"]
        assert "!= 'dependabot[bot]'" in job["if"]
    deploy = _load(large_project / ".github" / "workflows" / "deploy.yml")
    assert [job for job in deploy["jobs"] if job.startswith("deploy-")] == [
        "deploy-dev",
        "deploy-staging",
        "deploy-prod",
    ]


def test_every_action_is_pinned_to_a_commit_with_its_version(project: Path) -> None:
    # The version comment is only in the text: check the raw `uses:` lines.
    for path in _github_files(project):
        for line in path.read_text().splitlines():
            if match := re.match(r"^\s*(?:- )?uses: (.+)$", line):
                reference = match.group(1)
                assert PINNED.match(reference) or LOCAL.match(reference), f"{path}: {reference}"


def test_least_privilege_and_hardening(project: Path) -> None:
    for path in sorted((project / ".github" / "workflows").glob("*.yml")):
        workflow = _load(path)
        assert workflow["permissions"] == {}, path.name
        for job_id, job in workflow["jobs"].items():
            where = f"{path.name}: {job_id}"
            if "uses" in job:  # a reusable workflow: it has its own jobs and timeouts
                assert job["permissions"] == {"contents": "read"}, where
                continue
            assert 0 < job["timeout-minutes"] <= 120, where
            assert job["runs-on"] == "ubuntu-24.04", where
            # Only two jobs write anything, issues: the template-update check's, and the drift
            # check's issue job, which reads nothing else and holds no AWS role.
            if (path.name, job_id) == ("drift.yml", "issues"):
                assert job["permissions"] == {"issues": "write"}, where
                continue
            allowed = {"contents", "id-token"} | (
                {"issues"} if path.name == "template-update.yml" else set()
            )
            assert set(job["permissions"]) <= allowed, where
            assert job["permissions"]["contents"] == "read", where
    for path in _github_files(project):
        for step in _steps(_load(path)):
            # No expression is spliced into a script: values reach scripts through env.
            assert not EXPRESSION.search(step.get("run", "")), f"{path.name}: {step}"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path.name
            assert not step.get("uses", "").startswith("actions/cache"), path.name
            if step.get("uses", "").startswith("astral-sh/setup-uv@"):
                assert step["with"]["enable-cache"] is False, path.name


def test_no_long_lived_aws_keys(project: Path) -> None:
    for path in _github_files(project):
        text = path.read_text()
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET", "secrets."):
            assert forbidden not in text, f"{path.name}: {forbidden}"


def test_ci_runs_every_check_without_aws(project: Path) -> None:
    ci = _load(project / ".github" / "workflows" / "ci.yml")
    assert set(ci[True]) == {"pull_request", "workflow_call", "workflow_dispatch"}
    scripts = "\n".join(step.get("run", "") for step in _steps(ci))
    assert "bash scripts/check" in scripts  # the developers' own pre-push script
    scripts += (project / "scripts" / "check").read_text()
    for command in (
        "uv run pre-commit run --all-files",
        "uv run pytest",
        "npx cdk synth --strict",
        "uv run cfn-lint cdk.out/*.template.json",
        "docker build",
    ):
        assert command in scripts, command
    assert "configure-aws-credentials" not in (project / ".github/workflows/ci.yml").read_text()
    deploy = _load(project / ".github" / "workflows" / "deploy.yml")
    assert deploy[True] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert deploy["jobs"]["checks"]["uses"] == "$/.github/workflows/ci.yml"


def test_each_environment_deploys_its_stacks_in_order_and_rereads_outputs(project: Path) -> None:
    # Protects: the stacks deploy one at a time, Network first; and --force makes every stack
    # update, so its Fn::GetStackOutput references re-read the outputs they depend on (the CLI
    # would otherwise skip a stack whose template did not change, leaving them stale).
    deploy = _load(project / ".github" / "workflows" / "deploy.yml")
    jobs = {name: job for name, job in deploy["jobs"].items() if name.startswith("deploy-")}
    assert jobs
    # Only main builds: a manual run from a branch waiting in the build's group would cancel
    # a waiting build of main (a concurrency group keeps one pending job).
    build = deploy["jobs"]["build"]
    assert build["if"] == "github.ref == 'refs/heads/main'"
    assert build["concurrency"] == {"group": "deploy-build", "cancel-in-progress": False}
    for name, job in jobs.items():
        (command,) = [step["run"] for step in job["steps"] if "cdk deploy" in step.get("run", "")]
        words = command.split()
        assert {"--app", "cdk.out", "--exclusively", "--force"} <= set(words)
        assert words[words.index("--concurrency") + 1] == "1"
        stacks = [word for word in words if re.fullmatch(r"[A-Za-z0-9]+-[A-Za-z]+-[A-Za-z]+", word)]
        environment = name.removeprefix("deploy-").capitalize()
        assert [stack.split("-", 1)[1] for stack in stacks] == [
            f"{environment}-Network",
            f"{environment}-Datastore",
            f"{environment}-Compute",
        ]


def test_images_are_scanned_before_they_ship(project: Path) -> None:
    # The pull request's image, and the image the deploy promotes: a critical finding with a
    # released fix fails the job. No scanner cache: nothing a pull request writes feeds a deploy.
    ci = _load(project / ".github" / "workflows" / "ci.yml")
    deploy = _load(project / ".github" / "workflows" / "deploy.yml")
    for steps, built in (
        (ci["jobs"]["service"]["steps"], "docker build"),
        (deploy["jobs"]["build"]["steps"], "scripts/build_images.py"),
    ):
        build = next(i for i, step in enumerate(steps) if built in step.get("run", ""))
        (scan,) = [step for step in steps if step.get("uses", "").startswith(SCANNER)]
        assert steps.index(scan) > build
        assert scan["with"]["severity"] == "CRITICAL" and scan["with"]["exit-code"] == "1"
        assert scan["with"]["cache"] == "false"
        assert re.fullmatch(r"v\d+\.\d+\.\d+", scan["with"]["version"])


def test_one_bot_keeps_dependencies_and_the_template_current(
    default_project: Path, medium_project: Path
) -> None:
    # Renovate (the default): every manager, the template through its copier manager.
    renovate = json.loads((default_project / "renovate.json").read_text())
    assert renovate["minimumReleaseAge"] == "7 days"
    copier_rule = next(r for r in renovate["packageRules"] if r.get("matchManagers") == ["copier"])
    assert copier_rule["minimumReleaseAge"] == "0 days"
    assert "helpers:pinGitHubActionDigests" in renovate["extends"]
    assert not (default_project / ".github" / "dependabot.yml").exists()
    assert not (default_project / ".github" / "workflows" / "template-update.yml").exists()
    # Without Renovate: Dependabot for dependencies, a weekly check for template releases.
    assert not (medium_project / "renovate.json").exists()
    updates = _load(medium_project / ".github" / "dependabot.yml")["updates"]
    assert {u["package-ecosystem"] for u in updates} == {"github-actions", "uv", "npm", "docker"}
    for update in updates:
        assert update["cooldown"]["default-days"] >= 7, update["package-ecosystem"]
    check = _load(medium_project / ".github" / "workflows" / "template-update.yml")
    assert "schedule" in check[True]
    scripts = "\n".join(step.get("run", "") for step in _steps(check))
    assert "copier check-update --output-format json" in scripts
    assert "gh issue create" in scripts


def test_zizmor_finds_nothing(project: Path) -> None:
    # The auditor persona reports everything zizmor knows, pedantic findings included.
    result = run(
        ["zizmor", "--offline", "--persona", "auditor", "--no-progress", ".github"], project
    )
    assert "No findings to report" in result.stdout


def test_shell_scripts_pass_shellcheck(project: Path, tmp_path: Path) -> None:
    # Protects: every bash script a service runs (each workflow and action step, as GitHub
    # runs it: `bash -e` with `pipefail`; scripts/check, dev and verify-bootstrap) is free of what
    # shellcheck finds, style included: unquoted expansions, unchecked cd, useless pipes.
    scripts = [project / "scripts" / name for name in ("check", "dev", "verify-bootstrap")]
    for path in _github_files(project):
        for number, step in enumerate(_steps(_load(path))):
            if "run" not in step or step.get("shell", "bash") != "bash":
                continue
            # An expression is substituted before the shell sees it: a word stands for it.
            body = re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", step["run"])
            script = tmp_path / f"{path.parent.name}-{path.stem}-{number}.sh"
            script.write_text(f"#!/usr/bin/env bash\nset -eo pipefail\n{body}")
            scripts.append(script)
    assert len(scripts) > 10
    result = subprocess.run(
        ["shellcheck", "--severity=style", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_github_files_match_their_schemas(project: Path) -> None:
    github = project / ".github"
    for schema, paths in (
        ("vendor.github-workflows", sorted((github / "workflows").glob("*.yml"))),
        ("vendor.github-actions", sorted((github / "actions").glob("*/action.yml"))),
        ("vendor.dependabot", sorted(github.glob("dependabot.yml"))),
        ("vendor.renovate", sorted(project.glob("renovate.json"))),
    ):
        if not paths:
            continue
        command = ["check-jsonschema", "--builtin-schema", schema, *map(str, paths)]
        run(command, project)


def test_images_are_built_for_the_processor_the_tasks_run_on(
    default_project: Path, medium_project: Path
) -> None:
    # Protects: CI and the deploy build (and CI runs) the image for the tasks' architecture;
    # arm64 builds under a pinned QEMU on GitHub's x86 runners, x86_64 needs none.
    for project, platform in ((default_project, "linux/arm64"), (medium_project, "linux/amd64")):
        ci = _load(project / ".github" / "workflows" / "ci.yml")["jobs"]["service"]["steps"]
        build = _load(project / ".github" / "workflows" / "deploy.yml")["jobs"]["build"]["steps"]
        runs = "\n".join(step.get("run", "") for step in ci)
        assert f"docker build --platform {platform} " in runs
        assert "platform.machine() !=" in runs
        for steps in (ci, build):
            qemu = [s for s in steps if s.get("uses", "").startswith("docker/setup-qemu-action@")]
            if platform == "linux/arm64":
                (step,) = qemu
                assert step["with"]["platforms"] == "arm64"
                assert re.search(r"@sha256:[0-9a-f]{64}$", step["with"]["image"])
                assert step["with"]["cache-image"] == "false"
            else:
                assert not qemu
