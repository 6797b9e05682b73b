"""Drift: what a service team changed in the files the template manages.

A fresh render of the repository's own answers at its own template version is what the
repository would hold had nobody touched it; each managed file that differs from it has
drifted. Files the team added are not managed and are not drift, nor are the files the
template hands over to the team after the first render (`_skip_if_exists`).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml
from copier import run_copy

from fleet.repository import ANSWERS_FILE, NOT_RENDERED, RenderedRepository

NO_NEWLINE = "\\ No newline at end of file\n"


@dataclass(frozen=True)
class FileDrift:
    path: str  # relative to the repository, with forward slashes
    rendered: bytes  # what a fresh render holds
    current: bytes | None  # what the repository holds; None when the team deleted the file


@dataclass(frozen=True)
class Drift:
    repository: RenderedRepository
    version: str  # the template version rendered for comparison
    files: tuple[FileDrift, ...]

    @property
    def paths(self) -> list[str]:
        return [file.path for file in self.files]


def rendered_files(folder: Path) -> list[str]:
    """Every file below `folder`, relative to it, in path order."""
    found: list[str] = []
    for directory, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if name not in NOT_RENDERED)
        for name in sorted(files):
            found.append((Path(directory) / name).relative_to(folder).as_posix())
    return found


def render(
    repository: RenderedRepository, source: str, destination: Path, version: str | None = None
) -> Callable[[Path], bool]:
    """Render the repository's answers at its version (or `version`) into `destination`.
    Returns copier's own matcher for the files the team owns after the first render
    (`_skip_if_exists`)."""
    # The service's answers file first, where an update finds it: the template then renders
    # for a service that exists (copier.yml's has_answers_file), as its last update did. In an
    # empty folder it would apply the rules for new services (a service named `email` before
    # they refused it would not render) and new services' defaults.
    destination.mkdir(parents=True)
    shutil.copyfile(repository.path / ANSWERS_FILE, destination / ANSWERS_FILE)
    # Copier prints to stdout now and then; stdout belongs to fleet's report (--json).
    with contextlib.redirect_stdout(sys.stderr):
        worker = run_copy(
            source,
            destination,
            data=repository.questions_answered,
            vcs_ref=version or repository.commit,
            defaults=True,
            overwrite=True,
            quiet=True,
        )
    return worker.match_skip


def same_answers(rendered: bytes, current: bytes) -> bool:
    """The answers file matches when its values do. `_src_path` is left out: it records how the
    template was spelled (a clone's path, its URL), not what was rendered."""
    try:
        fresh, kept = yaml.safe_load(rendered), yaml.safe_load(current)
    except yaml.YAMLError:
        return False
    if not isinstance(fresh, dict) or not isinstance(kept, dict):
        return bool(fresh == kept)
    fresh.pop("_src_path", None)
    kept.pop("_src_path", None)
    return bool(fresh == kept)


def drift(repository: RenderedRepository, source: str) -> Drift:
    """Compare the repository, file by file, with a fresh render of its answers from `source`
    at its template version. Raises what copier raises when it cannot render that version."""
    with TemporaryDirectory(prefix="fleet-render-") as temporary:
        fresh = Path(temporary) / repository.path.name
        team_owned = render(repository, source, fresh)
        files: list[FileDrift] = []
        for relative in rendered_files(fresh):
            if team_owned(Path(relative)):
                continue
            rendered = (fresh / relative).read_bytes()
            kept_path = repository.path / relative
            current = kept_path.read_bytes() if kept_path.is_file() else None
            if current == rendered:
                continue
            if relative == ANSWERS_FILE and current is not None and same_answers(rendered, current):
                continue
            files.append(FileDrift(path=relative, rendered=rendered, current=current))
    return Drift(repository=repository, version=repository.commit, files=tuple(files))


def _lines(content: bytes) -> list[str]:
    """Lines for difflib; a last line without a newline carries git's marker, so a diff that
    only adds or removes the final newline still shows."""
    lines = content.decode("utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n" + NO_NEWLINE
    return lines


def unified_diff(drift: Drift) -> str:
    """The drift as one unified diff: a/ is the fresh render, b/ is the repository."""
    chunks: list[str] = []
    for file in drift.files:
        source_label = f"a/{file.path}\t(template {drift.version}, fresh render)"
        target_label = (
            f"b/{file.path}\t({drift.repository.service_name})"
            if file.current is not None
            else "/dev/null\t(deleted by the team)"
        )
        current = file.current if file.current is not None else b""
        if b"\0" in file.rendered or b"\0" in current:
            chunks.append(f"Binary files a/{file.path} and b/{file.path} differ\n")
            continue
        chunks.extend(
            difflib.unified_diff(
                _lines(file.rendered), _lines(current), fromfile=source_label, tofile=target_label
            )
        )
    return "".join(chunks)
