"""`copier update`: a project rendered from a release updates cleanly to the next one.

The template is copied into a throwaway git repository and tagged, as a release would be.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

from .conftest import BASE_ANSWERS, TEMPLATE, run

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}
NOT_TEMPLATE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules", "cdk.out"
)


def _commit(repository: Path, message: str, tag: str | None = None) -> None:
    run(["git", "add", "--all"], repository)
    run(["git", "commit", "--quiet", "--no-verify", "-m", message], repository)
    if tag:
        run(["git", "tag", tag], repository)


@pytest.fixture
def released_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in GIT_IDENTITY.items():
        monkeypatch.setenv(name, value)
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template, ignore=NOT_TEMPLATE)
    run(["git", "init", "--quiet", "--initial-branch=main"], template)
    _commit(template, "release 1.0.0", tag="v1.0.0")
    return template


def _render(template: Path, project: Path) -> None:
    run_copy(
        str(template),
        project,
        data=BASE_ANSWERS,
        defaults=True,
        vcs_ref="v1.0.0",
        quiet=True,
    )
    run(["git", "init", "--quiet", "--initial-branch=main"], project)
    _commit(project, "render orders-api from v1.0.0")


def _update(project: Path, vcs_ref: str) -> None:
    run_update(project, defaults=True, overwrite=True, vcs_ref=vcs_ref, quiet=True)


def test_update_to_the_same_release_changes_nothing(released_template: Path, tmp_path: Path):
    project = tmp_path / "orders-api"
    _render(released_template, project)
    _update(project, "v1.0.0")
    assert run(["git", "status", "--porcelain"], project).stdout == ""


def test_update_brings_the_next_release_and_keeps_the_teams_code(
    released_template: Path, tmp_path: Path
):
    project = tmp_path / "orders-api"
    _render(released_template, project)
    # The team changes code it owns (skipped on update) and adds its own file.
    server = project / "service" / "app" / "server.py"
    server.write_text(server.read_text() + "\n# the team's own change\n")
    (project / "NOTES.md").write_text("team notes\n")
    _commit(project, "team work")
    # The platform team releases 1.1.0.
    readme = released_template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nReleased with template 1.1.0.\n")
    _commit(released_template, "release 1.1.0", tag="v1.1.0")

    _update(project, "v1.1.0")

    assert "Released with template 1.1.0." in (project / "README.md").read_text()
    assert server.read_text().endswith("# the team's own change\n")
    assert (project / "NOTES.md").read_text() == "team notes\n"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.1.0"
    assert answers["service_name"] == "orders-api"
    assert not any(
        re.search(r"^<<<<<<< ", p.read_text(errors="ignore"), re.MULTILINE)
        for p in project.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )
