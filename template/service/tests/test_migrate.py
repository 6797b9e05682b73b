"""`python -m app.migrate` and Alembic's command line without a server: configuration errors,
a new revision as `alembic revision` writes it, the SQL of `upgrade head --sql`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from revisions import FIRST_REVISION, HEAD
from servers import run_migrate


def test_configuration_errors_exit_2_naming_the_variables(service_dir: Path) -> None:
    # No DB_* at all, and no REDIS_* either: the database's variables are what is missing.
    result = run_migrate(service_dir, {"MIGRATION_LOCK_TIMEOUT_SECONDS": "soon"})
    assert result.returncode == 2
    [failed] = result.records()
    assert failed["event"] == "startup_failed"
    for name in ("DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD"):
        assert f"{name} is required" in failed["reason"]
    assert "MIGRATION_LOCK_TIMEOUT_SECONDS must be a number" in failed["reason"]
    assert "REDIS" not in failed["reason"]


def test_a_new_revision_from_alembic_is_lint_clean(tmp_path: Path, service_dir: Path) -> None:
    # Protects: README's `uv run alembic revision -m ...` writes a revision that follows the
    # newest one and passes the repository's ruff rules as written.
    for name in ("alembic.ini", "pyproject.toml"):  # pyproject.toml: ruff's configuration
        shutil.copy(service_dir / name, tmp_path / name)
    shutil.copytree(
        service_dir / "migrations", tmp_path / "migrations", ignore=shutil.ignore_patterns("__py*")
    )
    alembic = [sys.executable, "-m", "alembic", "-c", str(tmp_path / "alembic.ini")]
    message = "written by the lint test"
    subprocess.run([*alembic, "revision", "-m", message], check=True, capture_output=True)
    [written] = (tmp_path / "migrations" / "versions").glob("*_written_by_the_lint_test.py")
    assert f'down_revision: str | Sequence[str] | None = "{HEAD}"' in written.read_text()
    for check in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *check, str(written)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_offline_sql_needs_no_database(service_dir: Path) -> None:
    # `alembic upgrade head --sql`: the SQL a release would run, for a review, without a server.
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head", "--sql"],
        cwd=service_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "CREATE TABLE visits" in result.stdout
    assert f"INSERT INTO alembic_version (version_num) VALUES ('{FIRST_REVISION}')" in result.stdout
    assert f"'{HEAD}'" in result.stdout  # the last version the SQL records
