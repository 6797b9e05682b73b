"""Releases of the template as services meet them: the previous one, the latest one as it
shipped, and this tree as the next one, in throwaway template repositories."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .commands import commit, run
from .template import TEMPLATE

# The last commit of the template before its first release: what services out there run.
PREVIOUS_RELEASE = "002b5a6"


def latest_release() -> tuple[str, str]:
    """The newest release in CHANGELOG.md and the commit it shipped as: its tag when the
    clone has it, else the commit that added its heading (the release commit)."""
    changelog = (TEMPLATE / "CHANGELOG.md").read_text()
    found = re.search(r"^## (\d+\.\d+\.\d+) ", changelog, re.MULTILINE)
    assert found, "CHANGELOG.md has no release heading"
    version = found.group(1)
    tagged = subprocess.run(
        ["git", "rev-parse", "--quiet", "--verify", f"refs/tags/{version}^{{commit}}"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=False,
    )
    if tagged.returncode == 0:
        return version, tagged.stdout.strip()
    added = run(
        ["git", "log", "--reverse", "--format=%H", f"-S## {version} ", "--", "CHANGELOG.md"],
        TEMPLATE,
    ).stdout.split()
    assert added, f"no commit added the heading of {version} to CHANGELOG.md"
    return version, added[0]


# The latest release as it shipped: services rendered from it update to this tree with
# copier alone.
LATEST_RELEASE, LATEST_RELEASE_COMMIT = latest_release()
# This tree, as the release after it.
_MAJOR, _MINOR = LATEST_RELEASE.split(".")[:2]
NEXT_RELEASE = f"{_MAJOR}.{int(_MINOR) + 1}.0"


def _replace_tree(repository: Path, files: dict[str, bytes]) -> None:
    for path in repository.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for relative, content in files.items():
        target = repository / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def tree_at(revision: str) -> dict[str, bytes]:
    names = run(["git", "ls-tree", "-r", "--name-only", revision], TEMPLATE).stdout.splitlines()
    return {
        name: subprocess.run(
            ["git", "show", f"{revision}:{name}"], cwd=TEMPLATE, capture_output=True, check=True
        ).stdout
        for name in names
    }


def working_tree() -> dict[str, bytes]:
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], TEMPLATE
    ).stdout.splitlines()
    return {name: (TEMPLATE / name).read_bytes() for name in listed if (TEMPLATE / name).is_file()}


def release_repository(directory: Path, *releases: tuple[str, dict[str, bytes]]) -> Path:
    """A throwaway template repository: one commit per (tag, tree), in order, each tagged."""
    template = directory / "cdk-service-template"
    template.mkdir()
    run(["git", "init", "--quiet", "--initial-branch=main"], template)
    for tag, tree in releases:
        _replace_tree(template, tree)
        commit(template, f"release {tag}", tag=tag)
    return template
