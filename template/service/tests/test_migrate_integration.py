"""`python -m app.migrate` against the real PostgreSQL of this session, each test on a new
database (`fresh_database`): as the schema owner, once under concurrency, bounded by its
timeouts, rolled back when a revision fails, and harmless when the database is ahead of the
code. Run with SAMPLE_SERVICE_INTEGRATION=1; then a missing server binary fails these tests.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import INTEGRATION
from revisions import CHAIN, FIRST_REVISION, HEAD
from servers import MigrateProcess, MigrateResult, PostgresServer, run_migrate, wait_for
from starlette.testclient import TestClient

from app.migrate import LOCK_KEY
from app.server import create_app
from app.settings import Settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not INTEGRATION,
        reason="set SAMPLE_SERVICE_INTEGRATION=1 to start PostgreSQL and Redis and run these",
    ),
]


def schema(server: PostgresServer, database: str) -> dict[str, Any]:
    """What a run could change: the tables with their owners and identity, and the version."""
    with server.connect(database) as conn:
        tables = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner), c.oid, c.relfilenode"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' ORDER BY c.relname"
        ).fetchall()
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, column_name"
        ).fetchall()
        versions: list[Any] = []
        if any(name == "alembic_version" for name, *_ in tables):
            versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return {"tables": tables, "columns": columns, "versions": versions}


def versions(server: PostgresServer, database: str) -> list[str]:
    return [row[0] for row in schema(server, database)["versions"]]


def assert_clean_output(result: MigrateResult, env: dict[str, str]) -> None:
    """Every line JSON, no traceback, no secret."""
    assert result.stderr == "", result.stderr
    result.records()  # each stdout line parses as one JSON object
    assert "Traceback" not in result.stdout
    assert env["DB_PASSWORD"] not in result.stdout


@pytest.fixture
def revisions(tmp_path: Path, service_dir: Path) -> Any:
    """A copy of migrations/ to which a test adds revisions after the newest one."""
    location = tmp_path / "migrations"
    shutil.copytree(service_dir / "migrations", location, ignore=shutil.ignore_patterns("__py*"))

    def add(revision: str, upgrade: str, down_revision: str = HEAD) -> Path:
        body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
        (location / "versions" / f"{revision}_test.py").write_text(
            f'"""test revision {revision}"""\n\n'
            "import sqlalchemy as sa\nfrom alembic import op\n\n"
            f"revision = {revision!r}\ndown_revision = {down_revision!r}\n"
            "branch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade() -> None:\n{body}\n\n\n"
            "def downgrade() -> None:\n    pass\n"
        )
        return location

    return add


def test_migrate_applies_the_schema_then_changes_nothing(
    fresh_database: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    name = fresh_database["DB_NAME"]
    first = run_migrate(service_dir, fresh_database)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.events() == ["migration_applied"] * len(CHAIN) + ["schema_migrated"]
    applied, *later = first.records("migration_applied")
    assert [record["revision"] for record in later] == CHAIN[1:]
    assert applied | {"ts": None} == {
        "ts": None,
        "level": "info",
        "event": "migration_applied",
        "revision": FIRST_REVISION,
        "description": "create visits",
    }
    [migrated] = first.records("schema_migrated")
    assert (migrated["from_revision"], migrated["to_revision"]) == (None, HEAD)
    assert_clean_output(first, fresh_database)
    after_first = schema(postgres_server, name)
    assert ("visits", "count") in after_first["columns"]
    assert versions(postgres_server, name) == [HEAD]

    # Nothing to do: exit 0, says so, and the tables, their files and the version are as they were.
    second = run_migrate(service_dir, fresh_database)
    assert second.returncode == 0
    assert second.events() == ["schema_current"]
    assert second.records()[0]["revision"] == HEAD
    assert schema(postgres_server, name) == after_first


def test_root_answers_503_until_the_migrations_ran(
    fresh_database: dict[str, str], integration_env: dict[str, str], service_dir: Path
) -> None:
    settings = Settings.from_env(integration_env | fresh_database)
    with TestClient(create_app(settings)) as client:
        before = client.get("/")
        assert run_migrate(service_dir, fresh_database).returncode == 0
        first = client.get("/")
        second = client.get("/")
    assert before.status_code == 503
    assert before.json() == {"error": "dependency unavailable", "dependency": "postgres"}
    assert first.status_code == 200
    assert (first.json()["visits_today"], second.json()["visits_today"]) == (1, 2)


def test_migrate_as_the_schema_owner_when_logged_in_as_the_rotated_clone(
    fresh_database: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    # As in AWS: the database user custom resource creates `app` (its grants below), and the
    # multi-user rotation creates `app_clone` with `GRANT app TO app_clone`. The task logs in as
    # whichever is current; DB_SCHEMA_OWNER=app makes `app` own what the migration creates.
    name = fresh_database["DB_NAME"]
    passwords = {"app": secrets.token_urlsafe(16), "app_clone": secrets.token_urlsafe(16)}
    with postgres_server.connect(name) as conn:
        for role, password in passwords.items():
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO app')
        conn.execute("GRANT USAGE, CREATE ON SCHEMA public TO app")
        conn.execute("GRANT app TO app_clone")

    clone = fresh_database | {
        "DB_USERNAME": "app_clone",
        "DB_PASSWORD": passwords["app_clone"],
        "DB_SCHEMA_OWNER": "app",
    }
    result = run_migrate(service_dir, clone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert passwords["app_clone"] not in result.stdout
    with postgres_server.connect(name) as conn:
        owners = dict(conn.execute("SELECT tablename, tableowner FROM pg_tables").fetchall())
    assert owners["visits"] == "app"
    assert owners["alembic_version"] == "app"


def test_two_runs_started_together_apply_the_schema_once(
    fresh_database: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    # Two OS processes started at the same moment (two tasks of one release, or a retry).
    runs = [MigrateProcess(service_dir, fresh_database) for _ in range(2)]
    results = [run.finish() for run in runs]
    assert [r.returncode for r in results] == [0, 0], [r.stdout + r.stderr for r in results]
    outcomes = sorted(r.events()[-1] for r in results)
    assert outcomes == ["schema_current", "schema_migrated"], [r.events() for r in results]
    assert sum(r.events().count("migration_applied") for r in results) == len(CHAIN)
    assert versions(postgres_server, fresh_database["DB_NAME"]) == [HEAD]


def test_a_run_waits_while_another_holds_the_advisory_lock(
    fresh_database: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    name = fresh_database["DB_NAME"]
    with postgres_server.connect(name) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        run = MigrateProcess(service_dir, fresh_database)
        wait_for(lambda: run.logged("migration_waiting"), timeout=30, what="migration_waiting")
        assert versions(postgres_server, name) == []  # nothing ran while it waited
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        result = run.finish()
    assert result.returncode == 0, result.stdout + result.stderr
    applied = ["migration_applied"] * len(CHAIN)
    assert result.events() == ["migration_waiting", *applied, "schema_migrated"]


def test_runs_waiting_for_the_lock_leave_a_concurrent_index_to_build(
    fresh_database: dict[str, str],
    postgres_server: PostgresServer,
    service_dir: Path,
    revisions: Any,
) -> None:
    # Protects: the README's CREATE INDEX CONCURRENTLY, in a release whose tasks start
    # together. A run waiting for the lock inside a statement held a snapshot the index build
    # waited for, and PostgreSQL ended the build as a deadlock: an INVALID index, every later
    # run failing on it.
    name = fresh_database["DB_NAME"]
    assert run_migrate(service_dir, fresh_database).returncode == 0
    location = revisions(
        "c1c0000000a1",
        """
        with op.get_context().autocommit_block():
            op.create_index("visits_count_idx", "visits", ["count"], postgresql_concurrently=True)
        """,
    )
    with postgres_server.connect(name) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        runs = [
            MigrateProcess(service_dir, fresh_database, script_location=location) for _ in range(2)
        ]
        for run in runs:
            wait_for(lambda run=run: run.logged("migration_waiting"), timeout=30, what="waiting")
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        results = [run.finish() for run in runs]
    assert [r.returncode for r in results] == [0, 0], [r.stdout + r.stderr for r in results]
    assert sorted(r.events()[-1] for r in results) == ["schema_current", "schema_migrated"]
    with postgres_server.connect(name) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'visits_count_idx'::regclass"
        ).fetchone()
    assert valid == (True,)


def test_waiting_for_the_advisory_lock_is_bounded(
    fresh_database: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    env = fresh_database | {"MIGRATION_STATEMENT_TIMEOUT_SECONDS": "1"}
    with postgres_server.connect(fresh_database["DB_NAME"]) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        result = run_migrate(service_dir, env)
    assert result.returncode == 1
    [failed] = result.records("migration_failed")
    assert (failed["stage"], failed["revision"]) == ("prepare", None)
    assert (failed["error"], failed["sqlstate"]) == ("LockNotAvailable", "55P03")
    assert_clean_output(result, fresh_database)


def test_a_revision_blocked_by_a_table_lock_fails_fast(
    fresh_database: dict[str, str],
    postgres_server: PostgresServer,
    service_dir: Path,
    revisions: Any,
) -> None:
    name = fresh_database["DB_NAME"]
    assert run_migrate(service_dir, fresh_database).returncode == 0
    location = revisions("b10c4ed0a1a1", 'op.add_column("visits", sa.Column("note", sa.Text()))')
    # The statement timeout, shorter than its 5 minutes here, ends the run in seconds should
    # the lock timeout ever be lost (the assertions below then fail on QueryCanceled).
    env = fresh_database | {
        "MIGRATION_LOCK_TIMEOUT_SECONDS": "0.5",
        "MIGRATION_STATEMENT_TIMEOUT_SECONDS": "15",
    }
    with postgres_server.connect(name) as holder, holder.transaction():
        # A long transaction elsewhere holds the table: ALTER TABLE must not queue behind it.
        holder.execute("LOCK TABLE visits IN ACCESS EXCLUSIVE MODE")
        result = run_migrate(service_dir, env, script_location=location)
    assert result.returncode == 1
    assert result.seconds < 15, result.seconds  # half a second of lock wait, plus start-up
    [failed] = result.records("migration_failed")
    assert failed | {"ts": None} == {
        "ts": None,
        "level": "error",
        "event": "migration_failed",
        "stage": "upgrade",
        "revision": "b10c4ed0a1a1",
        "error": "LockNotAvailable",
        "sqlstate": "55P03",
    }
    assert_clean_output(result, fresh_database)
    assert ("visits", "note") not in schema(postgres_server, name)["columns"]
    assert versions(postgres_server, name) == [HEAD]


def test_a_run_started_while_the_database_is_down_waits_for_it_for_a_bounded_time(
    fresh_database: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    # Protects: every task migrates before its service starts. A run that failed at once
    # while the database rebooted or failed over failed every task started meanwhile.
    name = fresh_database["DB_NAME"]
    postgres_server.stop()
    try:
        short = fresh_database | {"MIGRATION_CONNECT_RETRY_SECONDS": "2"}
        gave_up = run_migrate(service_dir, short)
        assert gave_up.returncode == 1, gave_up.stdout + gave_up.stderr
        retries = gave_up.records("migration_connect_retry")
        assert retries and {r["error"] for r in retries} == {"OperationalError"}
        assert gave_up.events()[-1] == "migration_failed"
        assert gave_up.records("migration_failed")[0]["stage"] == "connect"
        assert_clean_output(gave_up, fresh_database)

        run = MigrateProcess(service_dir, fresh_database)
        wait_for(
            lambda: run.logged("migration_connect_retry"), timeout=30, what="a retried connection"
        )
    finally:
        postgres_server.start()
    result = run.finish(timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.events()[0] == "migration_connect_retry"
    assert result.events()[-1] == "schema_migrated"
    assert_clean_output(result, fresh_database)
    assert versions(postgres_server, name) == [HEAD]


def test_ctrl_c_mid_revision_rolls_it_back_and_exits_130_without_a_traceback(
    fresh_database: dict[str, str],
    postgres_server: PostgresServer,
    service_dir: Path,
    revisions: Any,
) -> None:
    name = fresh_database["DB_NAME"]
    assert run_migrate(service_dir, fresh_database).returncode == 0
    location = revisions(
        "c7a1c0000001",
        """
        op.create_table("interrupted", sa.Column("id", sa.BigInteger(), primary_key=True))
        op.execute("SELECT pg_sleep(60)")
        """,
    )
    run = MigrateProcess(service_dir, fresh_database, script_location=location)
    with postgres_server.connect(name) as observer:

        def sleeping() -> bool:
            query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"
            row = observer.execute(query).fetchone()
            return row is not None and row[0] > 0

        wait_for(sleeping, timeout=30, what="the revision running")
        run.process.send_signal(signal.SIGINT)  # Ctrl-C, as the terminal sends it
        result = run.finish(timeout=30)
    assert result.returncode == 130, result.stdout + result.stderr
    assert result.events()[-1] == "migration_interrupted"
    assert_clean_output(result, fresh_database)
    assert "interrupted" not in [table for table, *_ in schema(postgres_server, name)["tables"]]
    assert versions(postgres_server, name) == [HEAD]


def test_a_failing_revision_rolls_back_entirely_and_is_named(
    fresh_database: dict[str, str],
    postgres_server: PostgresServer,
    service_dir: Path,
    revisions: Any,
) -> None:
    name = fresh_database["DB_NAME"]
    assert run_migrate(service_dir, fresh_database).returncode == 0
    before = schema(postgres_server, name)
    # Its first statement works, its second fails: the first must not stay behind.
    location = revisions(
        "fa11ed000001",
        """
        op.create_table("rolled_back", sa.Column("id", sa.BigInteger(), primary_key=True))
        op.execute("SELECT 1 / 0")
        """,
    )
    result = run_migrate(service_dir, fresh_database, script_location=location)
    assert result.returncode == 1
    assert result.events() == ["migration_failed"]
    [failed] = result.records()
    assert (failed["stage"], failed["revision"]) == ("upgrade", "fa11ed000001")
    assert (failed["error"], failed["sqlstate"]) == ("DivisionByZero", "22012")
    assert_clean_output(result, fresh_database)
    assert schema(postgres_server, name) == before


def test_revisions_before_the_failing_one_stay_applied(
    fresh_database: dict[str, str],
    postgres_server: PostgresServer,
    service_dir: Path,
    revisions: Any,
) -> None:
    # One transaction per revision: the first two commit, the third rolls back alone.
    revisions("600d00000001", 'op.add_column("visits", sa.Column("note", sa.Text()))')
    location = revisions("fa11ed000002", 'op.execute("SELECT 1 / 0")', "600d00000001")
    result = run_migrate(service_dir, fresh_database, script_location=location)
    assert result.returncode == 1
    assert [r["revision"] for r in result.records("migration_applied")] == [
        *CHAIN,
        "600d00000001",
    ]
    assert result.records("migration_failed")[0]["revision"] == "fa11ed000002"
    assert versions(postgres_server, fresh_database["DB_NAME"]) == ["600d00000001"]


def test_a_database_ahead_of_the_code_is_left_alone(
    fresh_database: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    # A newer release migrated the database; this (older) code starts again, in a rollback.
    name = fresh_database["DB_NAME"]
    assert run_migrate(service_dir, fresh_database).returncode == 0
    with postgres_server.connect(name) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dcafe0001'")
    before = schema(postgres_server, name)
    result = run_migrate(service_dir, fresh_database)
    assert result.returncode == 0
    [ahead] = result.records()
    assert ahead | {"ts": None} == {
        "ts": None,
        "level": "warning",
        "event": "database_ahead",
        "revision": "f00dcafe0001",
        "code_revision": HEAD,
    }
    assert schema(postgres_server, name) == before
