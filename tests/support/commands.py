"""Commands as a person runs them: any command that must succeed, git commits, and copier
as README.md and CHANGELOG.md write it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}
# The commands of README.md and CHANGELOG.md: copier alone, and once with --trust for the
# update that crosses the 1.0.0 migration (the previous release ran Jinja extensions).
COPIER = ["uvx", "copier"]
LEGACY_COPIER = ["uvx", "--with", "copier-template-extensions", "copier"]
# CHANGELOG 1.0.0's command for services of the previous release.
LEGACY_UPDATE = [
    *LEGACY_COPIER,
    "update",
    "--trust",
    "--skip-answered",
    "--defaults",
    "--vcs-ref",
    "1.0.0",
]


def run(
    command: list[str],
    cwd: Path,
    timeout: int = 600,
    environment: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def commit(repository: Path, message: str, tag: str | None = None) -> None:
    run(["git", "add", "--all"], repository)
    run(["git", "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message], repository)
    if tag:
        run(["git", "tag", tag], repository)


def render(copier: list[str], template: Path, project: Path, *arguments: str) -> None:
    run([*copier, "copy", "--defaults", *arguments, str(template), str(project)], project.parent)
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project)
    commit(project, "render from the template")


def data_arguments(answers: dict[str, Any]) -> list[str]:
    return [argument for key, value in answers.items() for argument in ("--data", f"{key}={value}")]
