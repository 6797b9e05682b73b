"""The template's README, run as written: from a clean clone, with copier alone (uvx).

The render block runs here, from a clone; the check block runs in each rendered project's
own-checks test (tests/test_template.py), on the same answers as this render's: this test
proves the clone renders exactly that project, file for file. And every AWS CLI and CDK CLI
command the docs show (the rendered projects' runbooks, workflows and scripts included) is one
the real CLI accepts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .support.aws_cli import refusal
from .support.cdk_cli import cdk_refusal, registry
from .support.commands import run
from .support.projects import GENERATED
from .support.shell_commands import commands_of
from .support.template import TEMPLATE, readme_bash_blocks

# Where the two renders may differ: where each was rendered from, and when.
ANSWERS_FILE = ".copier-answers.yml"


def _files(project: Path) -> dict[str, bytes]:
    found = {}
    for folder, directories, names in os.walk(project):
        directories[:] = [name for name in directories if name not in GENERATED]
        for name in names:
            path = Path(folder, name)
            if name not in GENERATED and name != ANSWERS_FILE:
                found[str(path.relative_to(project))] = path.read_bytes()
    return found


def test_example_service_renders_from_a_clean_clone_as_written(
    tmp_path: Path, default_project: Path
) -> None:
    # A clean clone of what is committed: what a new maintainer gets. Edits to tracked files
    # not yet committed are applied to it, so a local run tests the tree being worked on; a
    # new file that is not yet added to git is missing from the clone, and the comparison
    # below names it.
    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(TEMPLATE), str(clone)], tmp_path)
    edits = subprocess.run(
        ["git", "diff", "HEAD", "--binary"], cwd=TEMPLATE, capture_output=True, check=True
    ).stdout
    if edits:
        subprocess.run(["git", "apply", "-"], cwd=clone, input=edits, check=True)
    render, _ = readme_bash_blocks("Render an example service")
    # From a folder other than the root: the command finds the clone itself.
    run(["bash", "-euo", "pipefail", "-c", render], clone / "docs")
    example = clone / "example" / "orders-api"
    answers = (example / ANSWERS_FILE).read_text()
    assert "service_name: orders-api" in answers
    rendered, tested = _files(example), _files(default_project)
    assert sorted(rendered) == sorted(tested), "files of the working tree missing from git?"
    assert [name for name in rendered if rendered[name] != tested[name]] == []


def _shell_sources(*projects: Path) -> list[tuple[Path, bool]]:
    """Where commands are shown, each with whether it is Markdown: this repository's README,
    CHANGELOG and docs, and each render's READMEs, docs, workflows and scripts (the renders
    hold every optional section between them)."""
    sources = [(TEMPLATE / "README.md", True), (TEMPLATE / "CHANGELOG.md", True)]
    sources += [(path, True) for path in (TEMPLATE / "docs").rglob("*.md")]
    for project in projects:
        sources += [(project / "README.md", True), (project / "service" / "README.md", True)]
        sources += [(path, True) for path in (project / "docs").rglob("*.md")]
        sources += [(path, False) for path in (project / ".github").rglob("*.yml")]
        sources += [(path, False) for path in (project / "scripts").iterdir() if path.is_file()]
    return sources


def _distinct_commands(
    sources: list[tuple[Path, bool]], program: str
) -> dict[tuple[tuple[str, ...], bool], Path]:
    """Each distinct command of `program` (its arguments, whether it is whole), with the first
    file that shows it: the renders share most of theirs."""
    found: dict[tuple[tuple[str, ...], bool], Path] = {}
    for source, markdown in sources:
        for arguments, whole in commands_of(source.read_text(), program, markdown=markdown):
            found.setdefault((tuple(arguments), whole), source)
    return found


def test_every_aws_command_the_docs_show_is_one_the_aws_cli_accepts(
    default_project: Path,
    medium_project: Path,
    large_project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Protects: the runbooks' commands (a failover, a restore, a paused schedule...) name
    # services, operations and options that exist, with values their parameters take, as the
    # AWS CLI's own parser and botocore's models read them; no request leaves this machine
    # (support/aws_cli.py).
    isolated = {
        "AWS_ACCESS_KEY_ID": "placeholder",
        "AWS_SECRET_ACCESS_KEY": "placeholder",  # pragma: allowlist secret
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }
    for name, value in isolated.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    commands = _distinct_commands(
        _shell_sources(default_project, medium_project, large_project), "aws"
    )
    refused = {
        f"{source}: aws {' '.join(arguments)}": said
        for (arguments, whole), source in commands.items()
        if (said := refusal(list(arguments), tmp_path, whole=whole)) is not None
    }
    assert refused == {}
    assert len(commands) > 60, "the runbooks' commands were not found"


def test_every_cdk_command_the_docs_workflows_and_scripts_show_is_one_the_pinned_cli_knows(
    default_project: Path,
    medium_project: Path,
    large_project: Path,
    pinned_cdk_cli: Path,
) -> None:
    # Protects: `cdk deploy --exclusively`, `--method template`, the bootstrap's options...: the
    # CDK CLI only warns about an option it does not know and goes on without it (exit 0), so
    # a misspelt one in a runbook or a workflow would silently deploy something else. Checked
    # against the pinned CLI's own registry of commands, options and their choices.
    known = registry(pinned_cdk_cli)
    commands = _distinct_commands(
        _shell_sources(default_project, medium_project, large_project), "npx cdk"
    )
    wrong = {
        f"{source}: cdk {' '.join(arguments)}": said
        for (arguments, _), source in commands.items()
        if (said := cdk_refusal(list(arguments), known)) is not None
    }
    assert wrong == {}
    assert len(commands) > 15, "the commands were not found"
