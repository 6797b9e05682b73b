"""Renders real projects once per session; isolates copier from the user's settings."""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parent.parent
# The README's example service; each test overrides what it needs.
BASE_ANSWERS: dict[str, Any] = yaml.safe_load((TEMPLATE / "example-answers.yml").read_text())


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = tmp_path_factory.mktemp("copier-settings") / "settings.yml"
    settings.write_text("{}\n")
    os.environ["COPIER_SETTINGS_PATH"] = str(settings)
    os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    os.environ["UV_PYTHON_DOWNLOADS"] = "never"
    os.environ["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    # No AWS credentials (synth must not need them) and not this repository's virtualenv
    # (each rendered project has its own).
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "VIRTUAL_ENV",
    ):
        os.environ.pop(name, None)


def run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@functools.cache
def synced(project: Path) -> Path:
    """`git init` and `uv sync` a rendered project once, however many tests need it: what the
    message after copy tells a team to do first."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project)
    # --locked: the lock files the template ships must match the rendered manifests.
    run(["uv", "sync", "--quiet", "--locked"], project)
    return project


def _copied(copie_session: Any, **answers: Any) -> Path:
    """Render with pytest-copie once per session; the project must render cleanly."""
    result = copie_session.copy(extra_answers={**BASE_ANSWERS, **answers})
    assert result.exit_code == 0, result.exception
    return Path(result.project_dir)


@pytest.fixture(scope="session")
def default_project(copie_session: Any) -> Path:
    return _copied(copie_session)


@pytest.fixture(scope="session")
def large_project(copie_session: Any) -> Path:
    return _copied(
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
    )


@pytest.fixture(scope="session")
def medium_project(copie_session: Any) -> Path:
    """dev + prod in two accounts of another region, an imported OIDC provider, no PR diff,
    and a repository that still presents GitHub's legacy (name-only) OIDC subject."""
    return _copied(
        copie_session,
        sizing="medium",
        aws_region="us-east-1",
        environments=["dev", "prod"],
        dev_account_id="210987654321",
        import_github_oidc_provider=True,
        enable_pr_diff=False,
        github_legacy_subject=True,
    )


PROJECTS = ["default_project", "medium_project", "large_project"]


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
