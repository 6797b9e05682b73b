"""The rendered workflows' scripts, run as GitHub runs them (`bash -eo pipefail`), run after run.

No GitHub and no AWS here. The drift check's detect step runs with an `npx` that prints what the
pinned CDK CLI prints (its strings are checked in the CLI itself); the template-update check
asks the pinned copier itself about releases of a throwaway template repository. Their issue
steps run with a fake `gh` (tests/support/fake_gh.py) that keeps a repository's issues and
refuses any command or flag the steps did not use when these tests were written. The trust of
the drift roles is proven in the rendered tests (tests/test_pipeline.py), the workflows'
permissions in test_workflows.py.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .support.commands import COPIER, commit, data_arguments, render, run
from .support.projects import answers_of
from .support.template import BASE_ANSWERS
from .test_workflows import _load

FAKE_GH = Path(__file__).resolve().parent / "support" / "fake_gh.py"
PHASES = ["Identity", "Network", "Datastore", "Compute"]
RUN_URL = "https://github.com/acme/orders-api/actions/runs/{}"


def _workflow(project: Path, name: str = "drift.yml") -> dict[Any, Any]:
    return _load(project / ".github" / "workflows" / name)


def _step(job: dict[str, Any], name_starts: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = job["steps"]
    (step,) = [s for s in steps if s.get("name", "").startswith(name_starts)]
    return step


def _executable(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/usr/bin/env bash\nset -euo pipefail\n{body}\n")
    path.chmod(0o755)


def _bash(script: str, cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A `run:` step of a job whose default shell is bash: GitHub runs its script file with
    `bash --noprofile --norc -eo pipefail`."""
    path = cwd / "step.sh"
    path.write_text(script)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=cwd,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _stack_report(stack: str, drifted: int) -> str:
    """One stack's part of `cdk drift`, in the pinned CLI's words (checked below)."""
    if not drifted:
        return f"Stack {stack}\nNo drift detected\n\n"
    resources = "resource has" if drifted == 1 else "resources have"
    return (
        f"Stack {stack}\nModified Resources\n"
        "[~] AWS::EC2::SecurityGroup ServiceSecurityGroup ServiceSecurityGroupABC123\n"
        " └─ [~] /SecurityGroupIngress/1\n"
        f"\n{drifted} {resources} drifted from their expected configuration\n\n"
    )


@pytest.fixture(scope="module")
def cli_strings(pinned_cdk_cli: Path) -> str:
    """The pinned CDK CLI's code."""
    return (pinned_cdk_cli / "node_modules" / "aws-cdk" / "lib" / "index.js").read_text()


def test_the_detect_step_reads_the_pinned_clis_words(
    large_project: Path, cli_strings: str, tmp_path: Path
) -> None:
    # Protects: the step's verdict follows what the CLI prints; a CLI whose words change
    # (Renovate bumps it) fails here, not silently in production.
    assert "No drift detected\\n" in cli_strings
    assert "drifted from their expected configuration" in cli_strings
    job = _workflow(large_project)["jobs"]["detect-staging"]
    script = _step(job, "Detect drift")["run"]
    stacks = [f"OrdersApi-Staging-{phase}" for phase in PHASES]
    fakes = tmp_path / "bin"
    fakes.mkdir()
    # Refuses any other command line than the step's: the app already synthesized, these
    # four stacks.
    expected = " ".join(["cdk", "drift", "--app", "cdk.out", "--no-color", *stacks])
    _executable(
        fakes,
        "npx",
        f'[ "$*" = "{expected}" ] || {{ echo "unexpected: npx $*" >&2; exit 2; }}\n'
        'cat "$FAKE_CDK_DRIFT"',
    )
    cases = {
        "in-sync": "".join(_stack_report(stack, 0) for stack in stacks),
        "drifted": "".join(
            _stack_report(stack, 2 if "Network" in stack else 0) for stack in stacks
        ),
        # Three results of four (the CLI failed on the last stack): no verdict.
        "incomplete": "".join(_stack_report(stack, 0) for stack in stacks[:3])
        + "❌ Drift detection failed: AccessDenied\n",
    }
    for case, output in cases.items():
        workspace = tmp_path / case
        workspace.mkdir()
        (workspace / "cdk-drift.txt").write_text(output)
        summary = workspace / "summary.md"
        result = _bash(
            script,
            workspace,
            {
                "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}",
                "FAKE_CDK_DRIFT": str(workspace / "cdk-drift.txt"),
                "GITHUB_STEP_SUMMARY": str(summary),
            },
        )
        if case == "incomplete":
            assert result.returncode == 1, result.stderr
            assert "::error::no drift result for every stack of staging" in result.stdout
            assert not (workspace / "drift" / "staging" / "status").exists()
            continue
        assert result.returncode == 0, result.stdout + result.stderr
        assert (workspace / "drift" / "staging" / "status").read_text() == f"{case}\n"
        assert (workspace / "drift" / "staging" / "report.txt").read_text() == output
        assert summary.read_text().startswith(f"### Drift in staging: {case}\n```\n")


def _downloaded(artifacts: dict[str, Path], download: dict[str, Any], workspace: Path) -> None:
    """actions/download-artifact (v5 and later) as its README documents it: the artifacts whose
    names match `pattern`, each extracted into `path/<artifact name>/`, except when
    `merge-multiple` is true or a single artifact matches: then straight into `path/`."""
    matching = {
        name: content
        for name, content in artifacts.items()
        if fnmatch.fnmatchcase(name, download["pattern"])
    }
    merged = download.get("merge-multiple") is True or len(matching) == 1
    for name, content in matching.items():
        destination = workspace / download["path"] / ("" if merged else name)
        shutil.copytree(content, destination, dirs_exist_ok=True)


class Repository:
    """GitHub's side of the issue job: the repository's issues, through the fake `gh`."""

    def __init__(self, folder: Path) -> None:
        self.state = folder / "github.json"
        self.state.write_text(json.dumps({"labels": [], "issues": []}))
        self.bin = folder / "bin"
        self.bin.mkdir()
        _executable(self.bin, "gh", f'exec "{sys.executable}" "{FAKE_GH}" "$@"')

    @property
    def issues(self) -> list[dict[str, Any]]:
        issues: list[dict[str, Any]] = json.loads(self.state.read_text())["issues"]
        return issues

    def add_issue(self, title: str, label: str) -> None:
        state = json.loads(self.state.read_text())
        labels = [label] if label else []
        state["labels"] = sorted({*state["labels"], *labels})
        state["issues"].append(
            {
                "number": len(state["issues"]) + 1,
                "title": title,
                "labels": labels,
                "state": "open",
                "body": "",
                "comments": [],
            }
        )
        self.state.write_text(json.dumps(state))

    def close(self, number: int) -> None:
        state = json.loads(self.state.read_text())
        state["issues"][number - 1]["state"] = "closed"
        self.state.write_text(json.dumps(state))


def test_one_issue_per_drifted_environment_updated_and_closed_run_after_run(
    large_project: Path, tmp_path: Path
) -> None:
    workflow = _workflow(large_project)
    job = workflow["jobs"]["issues"]
    step = _step(job, "One issue per drifted environment")
    download = _step(job, "Download what each environment's check found")["with"]
    # What each detect job uploads: the folder its detect step wrote (tested above).
    upload = _step(workflow["jobs"]["detect-staging"], "Keep the result")["with"]
    assert upload == {**upload, "name": "drift-staging", "path": "drift"}
    assert set(step["env"]) == {"GH_TOKEN", "GH_REPO", "RUN_URL"} | {
        f"RESULT_{name.upper()}" for name in answers_of(large_project)["environments"]
    }
    repository = Repository(tmp_path)
    # Someone's own issue with the label, about another service: never touched.
    repository.add_issue("Drift in payments-api prod", "drift")

    def run_job(number: int, results: dict[str, str | None]) -> str:
        """One run of the issue job: each environment's detect job result, and what it found
        (None: the job failed and uploaded nothing)."""
        workspace = tmp_path / f"run-{number}"
        workspace.mkdir()
        artifacts: dict[str, Path] = {}
        for name, found in results.items():
            if found is not None:
                # The detect job's upload: the contents of its `drift` folder.
                uploaded = tmp_path / f"run-{number}-detect-{name}" / "drift"
                (uploaded / name).mkdir(parents=True)
                status = "in-sync" if found == "" else "drifted"
                (uploaded / name / "status").write_text(f"{status}\n")
                (uploaded / name / "report.txt").write_text(found or "No drift detected\n")
                artifacts[f"drift-{name}"] = uploaded
        _downloaded(artifacts, download, workspace)
        result = _bash(
            step["run"],
            workspace,
            {
                "PATH": f"{repository.bin}{os.pathsep}{os.environ['PATH']}",
                "FAKE_GH_STATE": str(repository.state),
                "GH_TOKEN": "token",
                "GH_REPO": "acme/orders-api",
                "RUN_URL": RUN_URL.format(number),
                **{
                    f"RESULT_{name.upper()}": "failure" if found is None else "success"
                    for name, found in results.items()
                },
            },
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def titled(environment: str) -> list[dict[str, Any]]:
        return [i for i in repository.issues if i["title"] == f"Drift in orders-api {environment}"]

    security_group = "[~] AWS::EC2::SecurityGroup ServiceSecurityGroup\n1 resource has drifted"
    bucket = "[-] AWS::S3::Bucket AccessLogs\n1 resource has drifted"

    # Day 1: staging drifted, dev in sync, prod's check failed.
    output = run_job(1, {"dev": "", "staging": security_group, "prod": None})
    (staging,) = titled("staging")
    assert staging["state"] == "open" and staging["labels"] == ["drift"]
    assert security_group in staging["body"] and RUN_URL.format(1) in staging["body"]
    assert not titled("dev") and not titled("prod")
    assert "::warning::no drift result for prod: its issue is left as it is" in output

    # Day 2: the same drift: the issue stays as it is, no comment.
    run_job(2, {"dev": "", "staging": security_group, "prod": None})
    assert titled("staging") == [staging]

    # Day 3: staging's drift changed, prod drifted too: staging's issue is rewritten and says
    # so, prod gets its own.
    run_job(3, {"dev": "", "staging": bucket, "prod": security_group})
    (staging,) = titled("staging")
    assert bucket in staging["body"] and security_group not in staging["body"]
    assert staging["comments"] == [f"The drift in staging changed: {RUN_URL.format(3)}"]
    (prod,) = titled("prod")
    assert prod["state"] == "open" and security_group in prod["body"]

    # Day 4: staging is back in sync; prod's check failed: its issue stays open, unchanged.
    run_job(4, {"dev": "", "staging": "", "prod": None})
    (staging,) = titled("staging")
    assert staging["state"] == "closed"
    assert staging["comments"][-1] == f"No drift in staging any more: {RUN_URL.format(4)}"
    assert titled("prod") == [prod]

    # Day 5: staging drifts again: a new issue (the closed one keeps its history).
    run_job(5, {"dev": "", "staging": security_group, "prod": security_group})
    assert [issue["state"] for issue in titled("staging")] == ["closed", "open"]
    assert titled("prod") == [prod]

    # Day 6: only prod's check succeeded (one artifact: download-artifact puts it straight
    # into results/), and prod is back in sync: its issue is closed.
    run_job(6, {"dev": None, "staging": None, "prod": ""})
    (prod,) = titled("prod")
    assert prod["state"] == "closed"
    assert prod["comments"][-1] == f"No drift in prod any more: {RUN_URL.format(6)}"
    (other,) = [i for i in repository.issues if i["title"] == "Drift in payments-api prod"]
    assert other["state"] == "open" and other["body"] == "" and other["comments"] == []


def test_one_issue_per_template_release_as_copier_reports_it(
    releases: Path, tmp_path: Path
) -> None:
    # Protects: the weekly check reads what the pinned copier really prints for a service
    # behind a release, opens one issue for it, never a second, and none once updated.
    project = tmp_path / "orders-api"
    answers = {**BASE_ANSWERS, "dependency_bot": "dependabot"}
    render(COPIER, releases, project, "--vcs-ref", "1.0.0", *data_arguments(answers))
    # The job's checkout: gh finds the repository from its remote.
    run(["git", "remote", "add", "origin", "https://github.com/acme/orders-api.git"], project)
    job = _workflow(project, "template-update.yml")["jobs"]["check"]
    ask = _step(job, "Ask copier")["run"]
    open_issue = _step(job, "Open an issue")
    assert set(open_issue["env"]) == {"GH_TOKEN"}
    repository = Repository(tmp_path)
    repository.add_issue("Service template 0.9.0 is released", "")

    def run_job() -> None:
        environment = {
            "PATH": f"{repository.bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_GH_STATE": str(repository.state),
            "GH_TOKEN": "token",
        }
        for script in (ask, open_issue["run"]):
            result = _bash(script, project, environment)
            assert result.returncode == 0, result.stdout + result.stderr
        # A new run starts from a fresh checkout: what the steps wrote is gone.
        run(["git", "clean", "-fdq"], project)

    # Monday 1: 1.0.1 is out: one issue, with the commands for that release.
    run_job()
    titled = [i for i in repository.issues if i["title"] == "Service template 1.0.1 is released"]
    (issue,) = titled
    assert "This repository is on template 1.0.0." in issue["body"]
    assert "uvx copier update --skip-answered --defaults --vcs-ref 1.0.1" in issue["body"]

    # Monday 2: the same release: no second issue, even once the first is closed.
    repository.close(issue["number"])
    run_job()
    assert [i["title"] for i in repository.issues].count(issue["title"]) == 1

    # Updated to 1.0.1 (as the issue says): nothing to report.
    run([*COPIER, "update", "--skip-answered", "--defaults", "--vcs-ref", "1.0.1"], project)
    commit(project, "template 1.0.1")
    run_job()
    assert len(repository.issues) == 2
