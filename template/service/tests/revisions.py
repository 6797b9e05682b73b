"""This repository's migration chain, oldest first. The migration tests follow it, so the
team's own revisions (README, "Schema migrations") keep them passing."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from app.migrate import SCRIPT_LOCATION, alembic_config

# migrations/versions/5393b20af01f_create_visits.py: the template's first revision.
FIRST_REVISION = "5393b20af01f"  # pragma: allowlist secret
CHAIN: list[str] = [
    script.revision
    for script in reversed(
        list(ScriptDirectory.from_config(alembic_config(SCRIPT_LOCATION)).walk_revisions())
    )
]
HEAD = CHAIN[-1]
