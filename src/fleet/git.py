"""The git commands fleet runs: each one a subprocess whose output is captured, never shown."""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitError(Exception):
    """A git command failed; the message names the command, the folder and what git said."""


def git(folder: Path, *arguments: str) -> str:
    result = subprocess.run(
        ["git", *arguments], cwd=folder, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip()
        raise GitError(f"git {' '.join(arguments)} (in {folder}) failed: {said}")
    return result.stdout


def is_in_work_tree(folder: Path) -> bool:
    return work_tree_refusal(folder) is None


def work_tree_refusal(folder: Path) -> str | None:
    """Why `folder` is not in a git work tree fleet can use, or None when it is: "not a git
    repository", or what git said (a repository another user owns, a broken one)."""
    try:
        inside = git(folder, "rev-parse", "--is-inside-work-tree").strip() == "true"
    except GitError as error:
        if "not a git repository" not in str(error):
            return f"git refuses it: {error}"
        inside = False
    return None if inside else "not a git repository (git init and commit it first)"


def is_tracked(folder: Path, relative: str) -> bool:
    """Whether `relative` (from `folder`) is a file the repository has committed or staged."""
    try:
        git(folder, "ls-files", "--error-unmatch", "--", relative)
    except GitError:
        return False
    return True


def changed_paths(folder: Path) -> list[str]:
    """Every path `git status` reports: modified, staged, deleted and untracked (each file of an
    untracked folder, not the folder), relative to the repository's top."""
    output = git(folder, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    entries = output.split("\0")
    paths: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        paths.append(path)
        # A rename or copy is followed by the path it came from.
        if "R" in status or "C" in status:
            index += 1
    return paths


def top_level(folder: Path) -> Path:
    return Path(git(folder, "rev-parse", "--show-toplevel").strip())


def head_commit(folder: Path) -> str:
    return git(folder, "rev-parse", "HEAD").strip()


def current_branch(folder: Path) -> str | None:
    """The checked-out branch, or None when HEAD is detached."""
    name = git(folder, "branch", "--show-current").strip()
    return name or None


def branch_exists(folder: Path, name: str) -> bool:
    try:
        git(folder, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}")
    except GitError:
        return False
    return True


def remote_tags(source: str) -> dict[str, str]:
    """The tags of a git repository given by local path or URL, each with the object it names
    (`git ls-remote`, so a remote template is asked over the network and nothing is cloned)."""
    output = git(Path.cwd(), "ls-remote", "--tags", "--refs", source)
    tags: dict[str, str] = {}
    for line in output.splitlines():
        if "\t" in line:
            object_id, ref = line.split("\t", 1)
            tags[ref.removeprefix("refs/tags/")] = object_id
    return tags


def remote_urls(folder: Path) -> list[str]:
    """The URLs of a local repository's remotes (none is not an error)."""
    try:
        output = git(folder, "config", "--get-regexp", r"^remote\..*\.url$")
    except GitError:
        return []
    return [line.split(" ", 1)[1] for line in output.splitlines() if " " in line]
