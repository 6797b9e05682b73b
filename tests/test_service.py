"""The sample service of a rendered project: its own suite, integration tests included.

The integration tests start real PostgreSQL and Redis servers (from their binaries; see
service/README.md), so this needs them installed; `.ci/run` installs them on CI. The worker's
run against moto's server mode, a local SQS-protocol server the tests start (not AWS).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from .support.commands import run
from .support.environments import uv_sync

# The integration tests that must have run, not been skipped (service/tests/test_integration.py).
INTEGRATION_TESTS = {
    "test_queries_run_through_one_pooled_tls_connection",
    "test_concurrent_requests_share_a_bounded_pool",
    "test_redis_with_auth_over_tls",
    "test_redis_rejects_a_wrong_token",
    "test_redis_refuses_plain_text_and_unknown_certificates",
    "test_root_and_readiness_with_both_real_stores",
    "test_database_restart_keeps_liveness_and_recovers_readiness",
    # python -m app.migrate (service/tests/test_migrate_integration.py).
    "test_migrate_applies_the_schema_then_changes_nothing",
    "test_root_answers_503_until_the_migrations_ran",
    "test_migrate_as_the_schema_owner_when_logged_in_as_the_rotated_clone",
    "test_two_runs_started_together_apply_the_schema_once",
    "test_a_run_waits_while_another_holds_the_advisory_lock",
    "test_waiting_for_the_advisory_lock_is_bounded",
    "test_a_revision_blocked_by_a_table_lock_fails_fast",
    "test_ctrl_c_mid_revision_rolls_it_back_and_exits_130_without_a_traceback",
    "test_a_failing_revision_rolls_back_entirely_and_is_named",
    "test_revisions_before_the_failing_one_stay_applied",
    "test_a_database_ahead_of_the_code_is_left_alone",
    # python -m app.worker against a local SQS-protocol server (service/tests/test_worker.py).
    "test_the_worker_records_each_message_in_postgres_and_redis_then_deletes_it",
    "test_long_work_keeps_the_message_invisible_until_it_is_deleted",
    "test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue",
    "test_sigterm_finishes_the_message_in_hand_and_stops_polling",
    "test_a_second_ctrl_c_stops_at_once_and_the_message_comes_back",
    # python -m app.jobs.<job_name> (service/tests/test_<job_name>.py).
    "test_the_job_writes_its_report_from_postgres_to_redis_and_exits_0",
    "test_a_real_run_while_the_lock_is_held_exits_0_without_work",
    "test_the_job_exits_1_when_postgres_is_unreachable",
}
# The real processes with no server (service/tests/test_main.py, test_migrate.py).
PROCESS_TESTS = {
    "test_liveness_200_and_readiness_503_while_dependencies_are_unreachable",
    "test_ctrl_c_stops_gracefully_with_status_130_and_no_traceback",
    "test_configuration_errors_exit_2_naming_the_variables",
    "test_a_new_revision_from_alembic_is_lint_clean",
    "test_offline_sql_needs_no_database",
    "test_worker_configuration_errors_exit_2_naming_the_variables",
    "test_a_worker_without_an_aws_region_exits_2_saying_so",
    "test_job_configuration_errors_exit_2_naming_the_variables",
}


def _outcomes(junit_xml: Path) -> dict[str, str]:
    """Test name -> passed, failed, error or skipped, from pytest's JUnit XML report."""
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        children = {child.tag for child in case}
        outcome = next(
            (tag for tag in ("failure", "error", "skipped") if tag in children), "passed"
        )
        outcomes[case.get("name", "")] = outcome
    return outcomes


def _service_pytest(
    service: Path, *arguments: str, in_the_background: bool = False
) -> subprocess.CompletedProcess[str]:
    """The service's own pytest with its integration tests, as CI runs it; or started as a
    background job of a script (`pytest &`), which ignores SIGINT and passes that on."""
    command = ["uv", "run", "--locked", "pytest", "-p", "no:cacheprovider", *arguments]
    if in_the_background:
        command = ["bash", "-c", '"$@" & wait "$!"', "bash", *command]
    return subprocess.run(
        command,
        cwd=service,
        env={**os.environ, "SAMPLE_SERVICE_INTEGRATION": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.cost(60)
def test_sample_service_suite_passes_with_its_integration_tests(
    large_project: Path, tmp_path: Path
) -> None:
    # The large render runs every workload: the service, its worker and its job.
    service = large_project / "service"
    # --locked: the committed uv.lock must match pyproject.toml (the Dockerfile needs it too).
    uv_sync(service)
    report = tmp_path / "service-junit.xml"
    # Started as a script starts a job in the background: its Ctrl-C tests (the server's, the
    # migrations', the worker's) still stop what they start with SIGINT, as in a terminal.
    result = _service_pytest(service, "-rA", f"--junitxml={report}", in_the_background=True)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"

    outcomes = _outcomes(report)
    assert "skipped" not in outcomes.values(), {n: o for n, o in outcomes.items() if o != "passed"}
    assert set(outcomes.values()) == {"passed"}
    for name in INTEGRATION_TESTS | PROCESS_TESTS:
        assert outcomes.get(name) == "passed", name
    assert re.search(r"^=+ \d+ passed in ", result.stdout, re.MULTILINE), result.stdout[-2000:]


@pytest.mark.cost(15)
def test_a_teams_first_migration_keeps_the_migration_tests_passing(
    default_project: Path, tmp_path: Path
) -> None:
    # Protects: the service's tests follow the migration chain, so a revision added as its
    # README says (`uv run alembic revision -m "add orders"`) does not turn CI red; they once
    # took the template's first revision for the newest.
    service = tmp_path / "service"
    ignore = shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache", ".mypy_cache")
    shutil.copytree(default_project / "service", service, ignore=ignore)
    uv_sync(service)
    run(["uv", "run", "--locked", "alembic", "revision", "-m", "add orders"], service)
    [revision] = (service / "migrations" / "versions").glob("*_add_orders.py")
    revision.write_text(
        revision.read_text().replace(
            "def upgrade() -> None:\n    pass",
            'def upgrade() -> None:\n    op.create_table("orders", sa.Column("id", sa.BigInteger()))',
        )
    )
    chosen = "new_revision or offline_sql or applies_the_schema or before_the_failing_one"
    tests = ["tests/test_migrate.py", "tests/test_migrate_integration.py", "-k", chosen]
    result = _service_pytest(service, "-q", *tests)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert re.search(r"^4 passed", result.stdout, re.MULTILINE), result.stdout[-2000:]


def test_sample_service_image_is_linted_and_locked(default_project: Path) -> None:
    service = default_project / "service"
    uv_sync(service)
    run(["uv", "run", "--locked", "hadolint", "Dockerfile"], service)
    dockerfile = (service / "Dockerfile").read_text()
    # The lock is required (no optional glob) and enforced.
    assert "COPY pyproject.toml uv.lock ./" in dockerfile
    assert "uv sync --locked --no-dev" in dockerfile
    # Both stages use the same Python image: the venv's interpreter links point into it.
    bases = re.findall(r"^FROM (python:\S+)", dockerfile, re.MULTILINE)
    assert len(bases) == 2 and bases[0] == bases[1], bases
    assert re.fullmatch(r"python:3\.13-slim@sha256:[0-9a-f]{64}", bases[0]), bases[0]
    assert 'CMD ["python", "-m", "app"]' in dockerfile
    assert "USER 10001:10001" in dockerfile
    # The release's migration task runs `python -m app.migrate` in this image, from /srv.
    assert "COPY migrations/ ./migrations/" in dockerfile
    ignored = (service / ".dockerignore").read_text().splitlines()
    assert not any(line.strip("/") in ("migrations", "*") for line in ignored), ignored
