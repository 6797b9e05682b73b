"""`copier update` of one repository onto a branch of its own, never onto the team's branch.

The update runs as Renovate's copier manager runs it (`--skip-answered --defaults`, no
`--trust`) on a new branch `template-update/<version>` made from the current HEAD:
- clean: committed there;
- conflict (inline markers or `*.rej` files): the attempt is committed there for the team
  to resolve;
- a managed file the release changes that the team deleted or renamed: copier leaves the
  change out without a word, so the update is reported as a conflict naming the file, for
  the team to apply the change by hand (to the renamed file);
- failure: the attempt is thrown away, the new branch deleted, the original branch checked out.
Whatever happens, the original branch is checked out again with its commit, and the working
tree ends clean: the update waits on its branch, to push and merge, and `fleet status` shows
the service behind until it is merged.
"""

from __future__ import annotations

import contextlib
import re
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from tempfile import TemporaryDirectory

from copier import run_update

from fleet.drift import drift, render
from fleet.git import (
    branch_exists,
    changed_paths,
    current_branch,
    git,
    head_commit,
    top_level,
)
from fleet.repository import RenderedRepository
from fleet.template import Release, version_of

# The lines `copier update` writes around an inline conflict (git's own markers).
CONFLICT_MARKER = re.compile(rb"^(<<<<<<< |>>>>>>> )", re.MULTILINE)
BRANCH_PREFIX = "template-update/"


class Outcome(StrEnum):
    CURRENT = "current"  # already on that release: nothing done
    NEWER = "newer"  # on a later release than the one asked: nothing done, never downgraded
    UPDATED = "updated"
    CONFLICT = "conflict"
    FAILED = "failed"  # nothing changed: the repository is as it was
    BROKEN = "broken"  # failed, and restoring the repository failed too: check it by hand


@dataclass(frozen=True)
class UpdateResult:
    repository: RenderedRepository
    target: str  # the release tag updated to
    outcome: Outcome
    branch: str | None = None  # the branch holding the update, if one was kept
    conflicts: tuple[str, ...] = field(default_factory=tuple)
    # Managed files the release changes that the repository no longer has: not applied.
    missing: tuple[str, ...] = field(default_factory=tuple)
    reason: str = ""


def update_branch(release: Release) -> str:
    return f"{BRANCH_PREFIX}{release.tag}"


def conflicted_files(top: Path, changed: list[str]) -> list[str]:
    """The changed files an update left unresolved: `*.rej` files and files with markers.
    Markers already in unchanged files are the team's business, not this update's."""

    def has_markers(relative: str) -> bool:
        path = top / relative
        return path.is_file() and CONFLICT_MARKER.search(path.read_bytes()) is not None

    return sorted(
        relative for relative in changed if relative.endswith(".rej") or has_markers(relative)
    )


def changes_to_missing_files(
    repository: RenderedRepository, source: str, release: Release
) -> list[str]:
    """The managed files `release` changes that the repository no longer has (the team
    deleted or renamed them): copier drops those changes without a word. The drift names the
    files the team deleted, with their content at the service's version; a render of the
    release says which of them it changes (only then: one render in the usual case)."""
    deleted = {
        file.path: file.rendered for file in drift(repository, source).files if file.current is None
    }
    if not deleted:
        return []
    with TemporaryDirectory(prefix="fleet-release-") as scratch:
        after = Path(scratch) / repository.path.name
        render(repository, source, after, version=release.tag)
        return [
            relative
            for relative, before in deleted.items()
            if (after / relative).is_file() and (after / relative).read_bytes() != before
        ]


def commit_all(top: Path, message: str) -> None:
    git(top, "add", "--all")
    # --no-verify: the commit is a proposal on its own branch, checked by the repository's CI
    # when the team opens it; its pre-commit hooks would refuse the conflict markers we commit
    # on purpose, and may need tools or network fleet has no business fetching.
    git(top, "commit", "--quiet", "--no-verify", "-m", message)


def restore(top: Path, original: str, branch: str | None) -> None:
    """Throw the attempt away: the tree as HEAD had it, back on the original branch, and the
    new branch gone. The tree was clean before, so every untracked file is the attempt's;
    ignored files (`.venv`) are left alone."""
    git(top, "reset", "--quiet", "--hard")
    git(top, "clean", "--quiet", "-d", "--force")
    git(top, "checkout", "--quiet", original)
    if branch is not None and branch_exists(top, branch):
        git(top, "branch", "--quiet", "-D", branch)


def update(repository: RenderedRepository, release: Release, source: str) -> UpdateResult:
    """Update one repository, whose working tree must be clean, to `release`, read from
    `source` (the template fleet reads releases from) for what the release changes."""
    current_version = version_of(repository.commit)
    if repository.commit == release.tag or current_version == release.version:
        return UpdateResult(repository, release.tag, Outcome.CURRENT)
    if current_version is not None and current_version > release.version:
        return UpdateResult(repository, release.tag, Outcome.NEWER)
    top = top_level(repository.path)
    branch = update_branch(release)
    if branch_exists(top, branch):
        return UpdateResult(
            repository,
            release.tag,
            Outcome.FAILED,
            reason=f"branch {branch} already exists (an earlier update?): merge or delete it",
        )
    # Checked again here, not only when fleet started: a batch takes minutes, and a failed
    # attempt is thrown away with `git reset --hard` and `git clean`, which would take work
    # done meanwhile with it.
    changed = changed_paths(top)
    if changed:
        return UpdateResult(
            repository,
            release.tag,
            Outcome.FAILED,
            reason=(
                f"its working tree changed since fleet started ({', '.join(changed[:3])}"
                f"{', ...' if len(changed) > 3 else ''}): commit or stash, then run again"
            ),
        )
    # A detached HEAD is restored by its commit.
    original = current_branch(top) or head_commit(top)
    created: str | None = None
    try:
        missing = changes_to_missing_files(repository, source, release)
        git(top, "checkout", "--quiet", "-b", branch)
        created = branch
        # Copier prints to stdout now and then; stdout belongs to fleet's report (--json).
        with contextlib.redirect_stdout(sys.stderr):
            run_update(
                repository.path,
                vcs_ref=release.tag,
                overwrite=True,
                skip_answered=True,
                defaults=True,
                unsafe=False,
                quiet=True,
            )
        conflicts = conflicted_files(top, changed_paths(top))
        if conflicts or missing:
            commit_all(top, f"Update template to {release.tag} (conflicts to resolve)")
        else:
            commit_all(top, f"Update template to {release.tag}")
        git(top, "checkout", "--quiet", original)
    except KeyboardInterrupt:
        restore(top, original, created)
        raise
    except Exception as error:  # noqa: BLE001 - any failure: report it, restore the branch
        reason = str(error).strip() or type(error).__name__
        try:
            restore(top, original, created)
        except Exception as restore_error:  # noqa: BLE001
            reason += f"; restoring {original} failed: {restore_error}"
            return UpdateResult(repository, release.tag, Outcome.BROKEN, reason=reason)
        return UpdateResult(repository, release.tag, Outcome.FAILED, reason=reason)
    if conflicts or missing:
        return UpdateResult(
            repository,
            release.tag,
            Outcome.CONFLICT,
            branch=branch,
            conflicts=tuple(conflicts),
            missing=tuple(missing),
        )
    return UpdateResult(repository, release.tag, Outcome.UPDATED, branch=branch)
