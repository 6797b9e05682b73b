"""Renders real projects once per session; isolates copier from the user's settings."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from xdist.scheduler import LoadScopeScheduling

TEMPLATE = Path(__file__).resolve().parent.parent
# The README's example service; each test overrides what it needs.
BASE_ANSWERS: dict[str, Any] = yaml.safe_load((TEMPLATE / "example-answers.yml").read_text())


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
    # Those links (a project's `.venv`) are never tracked, whatever the project's .gitignore.
    excludes = tmp_path_factory.mktemp("git") / "excludes"
    excludes.write_text(".venv\n")
    os.environ["GIT_CONFIG_COUNT"] = "1"
    os.environ["GIT_CONFIG_KEY_0"] = "core.excludesFile"
    os.environ["GIT_CONFIG_VALUE_0"] = str(excludes)
    # One mypy cache for every rendered project (they share their environments): aws-cdk-lib
    # is analysed once (about 55 s), not once per render. Not this repository's cache: mypy
    # keys entries by module name, and both have a `tests` package.
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


def run(
    command: list[str],
    cwd: Path,
    timeout: int = 600,
    environment: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def readme_bash_blocks(section: str) -> list[str]:
    """The ```bash blocks of one section of the template's README, in order."""
    readme = (TEMPLATE / "README.md").read_text()
    body = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, re.DOTALL)


def shared_environment(folder: Path) -> Path:
    """Point the `.venv` of a rendered project's folder (the CDK app's, or `service/`) at one
    environment per lock file in this session, synced once.

    What a team gets is the same (`uv sync --locked` from the same lock), but the session
    installs each lock once and, above all, compiles aws-cdk-lib's modules to bytecode once,
    not once per render (about 4 s of every first synth)."""
    lock = folder / "uv.lock"
    manifest = lock if lock.exists() else folder / "pyproject.toml"
    python = folder / ".python-version"
    key = hashlib.sha256(
        manifest.read_bytes() + (python.read_bytes() if python.exists() else b"")
    ).hexdigest()[:16]
    root = Path(os.environ["TEMPLATE_TESTS_ENVIRONMENTS"])
    root.mkdir(parents=True, exist_ok=True)
    # Named by what is installed, never by the folder: pytest-copie's folders (copie000, ...)
    # and the renders of other tests all share the environment of their lock file.
    kind = "service" if folder.name == "service" else "app"
    shared = root / f"{kind}-{manifest.name}-{key}"
    # One xdist worker creates it while the others wait for it.
    with open(root / f"{shared.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not (shared / "pyvenv.cfg").exists():
            locked = ["--locked"] if lock.exists() else []
            environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(shared)}
            run(["uv", "sync", "--quiet", *locked], folder, environment=environment)
    venv = folder / ".venv"
    if venv.is_symlink():
        venv.unlink()
    elif venv.exists():
        shutil.rmtree(venv)
    venv.symlink_to(shared, target_is_directory=True)
    return folder


def uv_sync(folder: Path, *, locked: bool = True) -> None:
    """`uv sync` as a team runs it, into the session's environment for that lock file."""
    shared_environment(folder)
    run(["uv", "sync", "--quiet", *(["--locked"] if locked else [])], folder)


@functools.cache
def synced(project: Path) -> Path:
    """`git init` and `uv sync` a rendered project once, however many tests need it: what the
    message after copy tells a team to do first."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project)
    # --locked: the lock files the template ships must match the rendered manifests.
    uv_sync(project)
    return project


def copied(copie_session: Any, **answers: Any) -> Path:
    """Render with pytest-copie once per session; the project must render cleanly."""
    result = copie_session.copy(extra_answers={**BASE_ANSWERS, **answers})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_dir)
    shared_environment(project)
    shared_environment(project / "service")
    return project


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
    )


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


PROJECTS = ["default_project", "medium_project", "large_project"]


@pytest.fixture(scope="session")
def rendered_mypy_cache(default_project: Path) -> None:
    """The default project's two type checks (the CDK app's, the sample service's), run once
    per session by the first xdist worker that asks while the others wait: every other render
    shares their environments and reads aws-cdk-lib's analysis (about 55 s on one core) from
    the cache instead of making it again, several at once."""
    root = Path(os.environ["TEMPLATE_TESTS_ENVIRONMENTS"])
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "rendered-mypy.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        done = root / "rendered-mypy.done"
        if not done.exists():
            project = synced(default_project)
            run(["uv", "run", "--locked", "mypy"], project)
            run(["uv", "run", "--locked", "--directory", "service", "mypy"], project)
            done.touch()


def extension(name: str) -> Any:
    """One of the template's Jinja files in extensions/, as copier loads it: its top-level
    values and macros, with the filters copier ships (jinja2-ansible-filters)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template(f"extensions/{name}.jinja").module


def load_module(relative_path: str) -> Any:
    """A plain Python module of the template by path (its package is not importable)."""
    path = TEMPLATE / relative_path
    spec = importlib.util.spec_from_file_location(f"template_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The last commit of the template before its first release: what services out there run.
PREVIOUS_RELEASE = "002b5a6"


def latest_release() -> tuple[str, str]:
    """The newest release in CHANGELOG.md and the commit it shipped as: its tag when the
    clone has it, else the commit that added its heading (the release commit)."""
    changelog = (TEMPLATE / "CHANGELOG.md").read_text()
    found = re.search(r"^## (\d+\.\d+\.\d+) ", changelog, re.MULTILINE)
    assert found, "CHANGELOG.md has no release heading"
    version = found.group(1)
    tagged = subprocess.run(
        ["git", "rev-parse", "--quiet", "--verify", f"refs/tags/{version}^{{commit}}"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=False,
    )
    if tagged.returncode == 0:
        return version, tagged.stdout.strip()
    added = run(
        ["git", "log", "--reverse", "--format=%H", f"-S## {version} ", "--", "CHANGELOG.md"],
        TEMPLATE,
    ).stdout.split()
    assert added, f"no commit added the heading of {version} to CHANGELOG.md"
    return version, added[0]


# The latest release as it shipped: services rendered from it update to this tree with
# copier alone.
LATEST_RELEASE, LATEST_RELEASE_COMMIT = latest_release()
# This tree, as the release after it.
_MAJOR, _MINOR = LATEST_RELEASE.split(".")[:2]
NEXT_RELEASE = f"{_MAJOR}.{int(_MINOR) + 1}.0"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}
# The commands of README.md and CHANGELOG.md: copier alone, and once with --trust for the
# update that crosses the 1.0.0 migration (the previous release ran Jinja extensions).
COPIER = ["uvx", "copier"]
LEGACY_COPIER = ["uvx", "--with", "copier-template-extensions", "copier"]
# CHANGELOG 1.0.0's command for services of the previous release.
LEGACY_UPDATE = [
    *LEGACY_COPIER,
    "update",
    "--trust",
    "--skip-answered",
    "--defaults",
    "--vcs-ref",
    "1.0.0",
]
CONFLICT = re.compile(
    r"^<<<<<<< before updating$.*?^>>>>>>> after updating$\n?", re.MULTILINE | re.DOTALL
)
# What a rendered project's own tools create in it (never rendered, never compared).
GENERATED = {
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    "__pycache__",
    ".dev",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
}


@pytest.fixture(scope="session", autouse=True)
def git_identity() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in GIT_IDENTITY.items():
            patch.setenv(name, value)
        yield


def commit(repository: Path, message: str, tag: str | None = None) -> None:
    run(["git", "add", "--all"], repository)
    run(["git", "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message], repository)
    if tag:
        run(["git", "tag", tag], repository)


def _replace_tree(repository: Path, files: dict[str, bytes]) -> None:
    for path in repository.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for relative, content in files.items():
        target = repository / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _tree_at(commit: str) -> dict[str, bytes]:
    names = run(["git", "ls-tree", "-r", "--name-only", commit], TEMPLATE).stdout.splitlines()
    return {
        name: subprocess.run(
            ["git", "show", f"{commit}:{name}"], cwd=TEMPLATE, capture_output=True, check=True
        ).stdout
        for name in names
    }


def _working_tree() -> dict[str, bytes]:
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], TEMPLATE
    ).stdout.splitlines()
    return {name: (TEMPLATE / name).read_bytes() for name in listed if (TEMPLATE / name).is_file()}


def _release_repository(directory: Path, *releases: tuple[str, dict[str, bytes]]) -> Path:
    """A throwaway template repository: one commit per (tag, tree), in order, each tagged."""
    template = directory / "cdk-service-template"
    template.mkdir()
    run(["git", "init", "--quiet", "--initial-branch=main"], template)
    for tag, tree in releases:
        _replace_tree(template, tree)
        commit(template, f"release {tag}", tag=tag)
    return template


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.1.0 (the previous release), 1.0.0 (this tree) and 1.0.1 (one README line changed)."""
    template = _release_repository(
        tmp_path_factory.mktemp("releases"),
        ("0.1.0", _tree_at(PREVIOUS_RELEASE)),
        ("1.0.0", _working_tree()),
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
    return _release_repository(
        tmp_path_factory.mktemp("shipped"),
        (LATEST_RELEASE, _tree_at(LATEST_RELEASE_COMMIT)),
        (NEXT_RELEASE, _working_tree()),
    )


def render(copier: list[str], template: Path, project: Path, *arguments: str) -> None:
    run([*copier, "copy", "--defaults", *arguments, str(template), str(project)], project.parent)
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project)
    commit(project, "render from the template")


def data_arguments(answers: dict[str, Any]) -> list[str]:
    return [argument for key, value in answers.items() for argument in ("--data", f"{key}={value}")]


LEGACY_ANSWERS = {
    key: BASE_ANSWERS[key]
    for key in ("service_name", "aws_account_id", "aws_region", "github_repository")
}
