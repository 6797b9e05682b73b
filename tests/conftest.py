"""Renders real projects once per session; isolates copier from the user's settings."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parent.parent
BASE_ANSWERS: dict[str, Any] = {
    "service_name": "orders-api",
    "aws_account_id": "123456789012",
    "aws_region": "ap-northeast-1",
    "github_repository": "acme/orders-api",
}


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
    """`uv sync` a rendered project once, however many tests need its environment."""
    run(["uv", "sync", "--quiet"], project)
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
        domain_name="orders.example.com",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
    )


@pytest.fixture(scope="session")
def medium_project(copie_session: Any) -> Path:
    """dev + prod in two accounts of another region, an imported OIDC provider, no PR diff."""
    return _copied(
        copie_session,
        sizing="medium",
        aws_region="us-east-1",
        environments=["dev", "prod"],
        dev_account_id="210987654321",
        import_github_oidc_provider=True,
        enable_pr_diff=False,
    )


PROJECTS = ["default_project", "medium_project", "large_project"]
