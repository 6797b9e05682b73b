"""Migration to 1.0.0, before the update: run by copier in the service repository.

1.0.0 is the first release that copier updates without --trust; services rendered before it
(from untagged commits) cross this migration once, with --trust (see CHANGELOG.md).

- Lock files, which teams made by hand before, now come with the template, current with its
  manifests: the team's own are removed first so the release's arrive whole.
- Files this release moves are moved first, so the team's edits merge into the new place (or
  conflict there, loudly) instead of vanishing with the old path.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from migration import move_team_files, remove_team_files

# old path -> new path, for managed files this release moves: the sample service became an
# ASGI app whose dependency checks live in health.py.
MOVED_FILES: dict[str, str] = {
    "service/app/checks.py": "service/app/health.py",
    "service/tests/test_checks.py": "service/tests/test_health.py",
    "service/tests/test_server.py": "service/tests/test_app.py",
}
# Lock files the release ships (before it, each team made its own).
SHIPPED_LOCK_FILES = ["uv.lock", "service/uv.lock", "package-lock.json"]


def main(template: Path, version_from: str) -> None:
    project = Path.cwd()
    remove_team_files(project, SHIPPED_LOCK_FILES)
    move_team_files(project, MOVED_FILES, template=template, version=version_from)


if __name__ == "__main__":
    # Arguments (copier.yml): the template's checkout and the release the service is on.
    main(Path(sys.argv[1]), sys.argv[2])
