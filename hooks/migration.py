"""What every migration does, in a service repository that copier is about to update.

Only the standard library: copier runs migrations with its own interpreter.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def released_content(template: Path, version: str, path: str) -> bytes | None:
    """A plain (non-Jinja) file as the given template release rendered it, if it had it."""
    shown = subprocess.run(
        ["git", "show", f"{version}:template/{path}"],
        cwd=template,
        capture_output=True,
        check=False,
    )
    return shown.stdout if shown.returncode == 0 else None


def move_team_files(project: Path, moves: dict[str, str], *, template: Path, version: str) -> None:
    """For each file the release renames: if the team edited it, move it (with git when the
    project is a repository) so the update merges the template's changes into the team's
    version, or conflicts there, loudly; if not, remove it, and the new file arrives whole."""
    for old, new in moves.items():
        source, target = project / old, project / new
        if not source.exists() or target.exists():
            continue
        if source.read_bytes() == released_content(template, version, old):
            remove_team_files(project, [old])
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        moved = subprocess.run(
            ["git", "mv", old, new], cwd=project, capture_output=True, check=False
        )
        if moved.returncode != 0:
            shutil.move(source, target)
        print(f"migration: moved {old} -> {new} (your edits come along)")


def remove_team_files(project: Path, paths: list[str]) -> None:
    """Remove files the release now ships itself (so they arrive whole, not as a conflict
    with the team's own copy)."""
    for path in paths:
        if not (project / path).exists():
            continue
        removed = subprocess.run(
            ["git", "rm", "--quiet", "--force", path], cwd=project, capture_output=True, check=False
        )
        if removed.returncode != 0:
            (project / path).unlink()
        print(f"migration: removed {path}; the release brings its own")
