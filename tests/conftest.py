"""Fixtures and hooks: real projects rendered once per session, copier isolated from the
user's settings, the costliest tests first. The helpers the tests share are in support/."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from .support.commands import GIT_IDENTITY, commit, run
from .support.environments import synced
from .support.network import free_port, listens
from .support.projects import copied
from .support.releases import (
    LATEST_RELEASE,
    LATEST_RELEASE_COMMIT,
    NEXT_RELEASE,
    PREVIOUS_RELEASE,
    release_repository,
    tree_at,
    working_tree,
)
from .support.servers import wait_for_servers
from .support.template import BASE_ANSWERS, TEMPLATE


def pytest_configure() -> None:
    # A job a non-interactive shell starts in the background (`bash .ci/run &`) ignores SIGINT,
    # and every program the tests start would inherit that: the Ctrl-C tests (scripts/dev,
    # fleet, the sample service) would drive programs no terminal runs. With Python's handler
    # here, the programs started from this process and its xdist workers get SIGINT's default
    # back (exec resets a handled signal; an ignored one stays ignored).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The costliest tests first (their `cost` mark), the rest in their usual order."""

    def cost(item: pytest.Item) -> float:
        marker = item.get_closest_marker("cost")
        return float(marker.args[0]) if marker else 0.0

    items.sort(key=cost, reverse=True)


# Modules whose module-scoped fixtures (rendered services and their releases, a running
# `scripts/dev`) cost too much to set up on both workers: each runs whole on one.
WHOLE_MODULES = ("tests/test_fleet.py", "tests/test_dev_loop.py")


class CostliestFirstScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    """Hands each xdist worker one test (or one whole module) at a time, in collection order:
    the long ones start at once and the two workers finish together, instead of one running
    three own-checks alone at the end (`--dist load` sends runs of consecutive tests).
    `--dist loadgroup` with `xdist_group` marks would keep a module on one worker, but it
    stopped grouping under pytest 9.2 (pytest-dev/pytest-xdist#1386)."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if module in WHOLE_MODULES else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> CostliestFirstScheduling:
    # Keep the order above: by default the scheduler puts the scopes with most tests first.
    config.option.loadscopereorder = False
    return CostliestFirstScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = tmp_path_factory.mktemp("copier-settings") / "settings.yml"
    settings.write_text("{}\n")
    os.environ["COPIER_SETTINGS_PATH"] = str(settings)
    os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    os.environ["UV_PYTHON_DOWNLOADS"] = "never"
    os.environ["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    # The session's environments, one per lock file, shared by every xdist worker.
    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        session = session.parent
    os.environ["TEMPLATE_TESTS_ENVIRONMENTS"] = str(session / "environments")
    # The pytest runs a test starts (a rendered project's check, the sample service's suite)
    # each clean up older temporary folders of their root: in the user's shared one, a run
    # removed a folder another worker's run was using, and its warning failed that check.
    # One root per worker, whose runs come one after another.
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(tmp_path_factory.mktemp("pytest-runs"))
    # Those links (a project's `.venv`) are never tracked, whatever the project's .gitignore.
    excludes = tmp_path_factory.mktemp("git") / "excludes"
    excludes.write_text(".venv\n")
    os.environ["GIT_CONFIG_COUNT"] = "1"
    os.environ["GIT_CONFIG_KEY_0"] = "core.excludesFile"
    os.environ["GIT_CONFIG_VALUE_0"] = str(excludes)
    # One mypy cache for every rendered project (they share their environments): the aws_cdk
    # modules they follow are analysed once (about 17 s), not once per render. Not this
    # repository's cache: mypy keys entries by module name, and both have a `tests` package.
    os.environ.setdefault("MYPY_CACHE_DIR", str(TEMPLATE / ".mypy_cache" / "rendered-projects"))
    # No AWS credentials (synth must not need them), not this repository's virtualenv (each
    # rendered project has its own), and bytecode written as on a developer's machine: without
    # it every synth compiles aws-cdk-lib's modules again (4 of a large app's 10 seconds).
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "VIRTUAL_ENV",
        "PYTHONDONTWRITEBYTECODE",
    ):
        os.environ.pop(name, None)


@pytest.fixture(scope="module", autouse=True)
def servers_installed() -> None:
    """On a fresh CI machine, PostgreSQL, Redis and jq install while the tests begin (.ci/run).
    Each module waits for them once: after the session's renders and environments its first
    test needs (pytest sets up wider scopes first), and before its own fixtures, such as the
    running `scripts/dev`. A worker that waits leaves the cores to the others and to dpkg."""
    wait_for_servers()


@pytest.fixture(scope="session")
def default_project(copie_session: Any) -> Path:
    return copied(copie_session)


@pytest.fixture(scope="session")
def large_project(copie_session: Any) -> Path:
    return copied(
        copie_session,
        sizing="large",
        environments=["dev", "staging", "prod"],
        # All three in production's account: each gets its own bootstrap qualifier.
        allow_shared_accounts=True,
        dev_account_id=BASE_ANSWERS["aws_account_id"],
        staging_account_id=BASE_ANSWERS["aws_account_id"],
        domain_name="orders.example.com",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        # Operations options: on-call by email and operator shells (ECS Exec).
        alarm_email="oncall@example.com",
        enable_ecs_exec=True,
        # Every workload: the API, the queue worker and the first scheduled job.
        workloads=["api", "worker", "scheduled_job"],
        # Every compliance pack (and so a backup plan in every environment); the drift check
        # is a new service's default.
        compliance_packs=["nist-800-53-r5", "hipaa", "pci-dss"],
        # And their vaults locked in compliance mode (Vault Lock).
        backup_vault_lock=True,
    )


@pytest.fixture(scope="session")
def pinned_cdk_cli(large_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned CDK CLI, installed once from the project's lock file (`npm ci`) into a
    folder of its own: the folder whose node_modules has it."""
    folder = tmp_path_factory.mktemp("cdk-cli")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(large_project / name, folder / name)
    run(["npm", "ci", "--no-fund", "--no-audit", "--silent"], folder)
    return folder


@pytest.fixture(scope="session")
def medium_project(copie_session: Any) -> Path:
    """dev + prod in two accounts of another region, an imported OIDC provider, no PR diff,
    a repository that still presents GitHub's legacy (name-only) OIDC subject, Dependabot
    with the weekly template-update check instead of Renovate, x86_64 tasks with dev on
    demand (the new services' defaults are arm64 and Spot outside production), no backup plan,
    no drift check and no rotation of the Redis token, and a queue worker alone: no API, so no
    load balancer, certificate or WAF."""
    return copied(
        copie_session,
        sizing="medium",
        aws_region="us-east-1",
        environments=["dev", "prod"],
        dev_account_id="210987654321",
        import_github_oidc_provider=True,
        enable_pr_diff=False,
        github_legacy_subject=True,
        dependency_bot="dependabot",
        # What services rendered before the questions run: x86 tasks, dev on demand.
        cpu_architecture="x86_64",
        spot_in_non_production=False,
        workloads=["worker"],
        # Nor do they have a backup plan or the drift check (both off, as after an update).
        backup_plan=False,
        drift_detection=False,
        # Nor do they rotate the Redis AUTH token (the runbook does it by hand).
        cache_token_rotation=False,
    )


@pytest.fixture(scope="session")
def warm_rendered_mypy_cache(default_project: Path) -> Callable[[], None]:
    """Warms the rendered projects' mypy cache with the default project's two type checks
    (the CDK app's, the sample service's), once per session: the first xdist worker that
    calls it runs them while the others wait. Every other render shares their environments
    and reads the analysis of aws-cdk-lib (about 17 s on one core) from the cache instead of
    making it again, several at once. A test with work to do before its checks calls it then,
    instead of waiting from its start (`rendered_mypy_cache`)."""

    def warm() -> None:
        root = Path(os.environ["TEMPLATE_TESTS_ENVIRONMENTS"])
        root.mkdir(parents=True, exist_ok=True)
        with open(root / "rendered-mypy.lock", "w") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            done = root / "rendered-mypy.done"
            if not done.exists():
                project = synced(default_project)
                # The CDK app's and the sample service's, side by side: each mypy is one
                # process on one core, and the workers waiting for the cache wait less (20.5 s
                # one after the other, 14.5 s side by side, on an idle 2-core machine).
                commands = [
                    ["uv", "run", "--locked", "mypy"],
                    ["uv", "run", "--locked", "--directory", "service", "mypy"],
                ]
                with ThreadPoolExecutor(max_workers=len(commands)) as pool:
                    for checked in [pool.submit(run, command, project) for command in commands]:
                        checked.result()
                done.touch()

    return warm


@pytest.fixture(scope="session")
def rendered_mypy_cache(warm_rendered_mypy_cache: Callable[[], None]) -> None:
    """The rendered projects' mypy cache, warm before the test starts."""
    warm_rendered_mypy_cache()


@pytest.fixture(scope="session", autouse=True)
def git_identity() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in GIT_IDENTITY.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.1.0 (the previous release), 1.0.0 (this tree) and 1.0.1 (one README line changed)."""
    template = release_repository(
        tmp_path_factory.mktemp("releases"),
        ("0.1.0", tree_at(PREVIOUS_RELEASE)),
        ("1.0.0", working_tree()),
    )
    readme = template / "template" / "README.md.jinja"
    text = readme.read_text()
    title = next(line for line in text.splitlines() if line.startswith("# "))
    readme.write_text(text.replace(title, f"{title} (service)", 1))
    commit(template, "release 1.0.1: the README's title names the repository a service", "1.0.1")
    return template


@pytest.fixture(scope="session")
def shipped_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The latest release as it shipped, and this tree as the next one."""
    return release_repository(
        tmp_path_factory.mktemp("shipped"),
        (LATEST_RELEASE, tree_at(LATEST_RELEASE_COMMIT)),
        (NEXT_RELEASE, working_tree()),
    )


@pytest.fixture
def local_aws(tmp_path: Path) -> Iterator[str]:
    """moto's server mode, in a process of its own as AWS is: started by its command, never
    imported (this repository's type check would then analyse all of moto, about a thousand
    modules: half the CPU of every cold mypy run here)."""
    port = free_port()
    log = tmp_path / "moto.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not listens(port):
            assert server.poll() is None, f"moto's server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, (
                f"moto's server is not listening:\n{log.read_text()}"
            )
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
