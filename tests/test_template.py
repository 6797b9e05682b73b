"""Renders real projects and runs their own toolchain: ruff, pytest and the CDK CLI."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import BASE_ANSWERS, PROJECTS, TEMPLATE, run, synced

# What the project's own tools create after rendering (other tests run them).
GENERATED = {".git", ".venv", "node_modules", "cdk.out", "uv.lock", "package-lock.json"}
# Jinja left behind; `${{ }}` is a GitHub Actions expression, not Jinja.
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%")


def test_every_question_has_type_and_help() -> None:
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    questions = {k: v for k, v in config.items() if not k.startswith("_")}
    assert {"service_name", "aws_account_id", "aws_region", "sizing", "github_repository"} <= set(
        questions
    )
    for name, question in questions.items():
        assert "type" in question and "help" in question, name


@pytest.mark.parametrize("fixture", PROJECTS)
def test_render_has_every_phase_and_no_jinja(fixture: str, request: pytest.FixtureRequest) -> None:
    project: Path = request.getfixturevalue(fixture)
    for path in ("app.py", "cdk.json", "package.json", "pyproject.toml", "service/Dockerfile"):
        assert (project / path).is_file(), path
    for module in ("identity", "state", "network", "datastore", "compute", "sizing", "policy"):
        assert (project / "orders_api" / f"{module}.py").is_file(), module
    for path in project.rglob("*"):
        if path.is_file() and not GENERATED.intersection(path.parts):
            assert not UNRENDERED.search(path.read_text(errors="ignore")), path


def test_package_json_pins_the_cdk_cli(default_project: Path) -> None:
    version = json.loads((default_project / "package.json").read_text())["devDependencies"][
        "aws-cdk"
    ]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)


def test_cdk_json_carries_the_qualifier(default_project: Path) -> None:
    context = json.loads((default_project / "cdk.json").read_text())["context"]
    assert context["@aws-cdk/core:bootstrapQualifier"] == "ordersapi"


def test_sizing_differs_between_small_and_large(default_project: Path, large_project: Path) -> None:
    small = (default_project / "orders_api" / "environments.py").read_text()
    large = (large_project / "orders_api" / "environments.py").read_text()
    assert 'SIZING_PRESETS["small"]' in small and 'SIZING_PRESETS["large"]' not in small
    assert 'SIZING_PRESETS["large"]' in large
    assert 'name="dev"' in large and 'name="staging"' in large


@pytest.mark.parametrize("fixture", PROJECTS)
def test_rendered_project_passes_its_own_checks(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # scripts/check is what the project's CI and its developers run: the pre-commit hooks
    # (secret scan, ruff format and check, zizmor) over every file, its pytest, the pinned CDK
    # CLI's strict offline synth, and cfn-lint, which fails on any error or warning.
    project = synced(request.getfixturevalue(fixture))
    run(["npm", "install", "--no-fund", "--no-audit", "--silent"], project)
    run(["git", "add", "--all"], project)  # pre-commit checks the files git tracks
    result = run(["bash", "scripts/check"], project)
    tests, synth = result.stdout.split("==> strict offline synth")
    # The CDK CLI logs to stderr, or to stdout when CI=true.
    synth += result.stderr
    for hook in ("detect-secrets", "ruff format", "ruff check", "zizmor"):
        assert re.search(rf"{hook}.*Passed", tests), hook
    assert " passed" in tests and "failed" not in tests
    assert "Successfully synthesized" in synth and "warning" not in synth.lower()
    assert (project / "cdk.out" / "OrdersApi-Prod-Compute.template.json").is_file()


ZONE = {"domain_name": "orders.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}
# (answers, what the message must say: the question, the value and the rule)
BAD_ANSWERS: list[tuple[dict[str, Any], str]] = [
    ({"service_name": "Orders_API"}, r"service_name: 'Orders_API' must use lowercase letters"),
    ({"service_name": "orders-"}, r"service_name: 'orders-' .* not end with a hyphen"),
    ({"service_name": "a" * 25}, r"service_name: 'a{25}' is 25 characters; at most 24"),
    ({"aws_account_id": "12345"}, r"aws_account_id: '12345' is not an AWS account id"),
    ({"aws_account_id": "1234567890123"}, r"aws_account_id: '1234567890123' .*12 digits"),
    ({"aws_region": "mars-north-1"}, r"aws_region: 'mars-north-1' is not a region"),
    ({"github_repository": "acme"}, r"github_repository: 'acme' must be 'owner/name'"),
    ({"github_repository": "acme/bad name"}, r"github_repository: 'acme/bad name' must be"),
    ({"sizing": "huge"}, r"'sizing': 'huge' is not in \['small', 'medium', 'large'\]"),
    ({"environments": ["qa", "prod"]}, r"'environments': 'qa' is not in"),
    ({"environments": ["dev"]}, r"environments: 'prod' is required \(got \['dev'\]\)"),
    (
        {"environments": ["dev", "prod"], "dev_account_id": "1234"},
        r"dev_account_id: '1234' is not an AWS account id",
    ),
    ({"health_check_path": "health"}, r"health_check_path: 'health' must start with '/'"),
    ({"cdk_qualifier": "Too-Long-Qualifier"}, r"cdk_qualifier: 'Too-Long-Qualifier' must be 1"),
    ({"domain_name": "Not A Domain"}, r"domain_name: 'Not A Domain' must be a lowercase DNS"),
    # Combinations that cannot work.
    ({"domain_name": "orders.example.com"}, r"hosted_zone_id: required when domain_name"),
    ({**ZONE, "hosted_zone_id": "bad"}, r"hosted_zone_id: 'bad' is not a Route 53 hosted zone"),
    ({**ZONE, "hosted_zone_name": "other.com"}, r"hosted_zone_name: 'other.com' must be"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS)
def test_bad_answers_are_refused_and_nothing_is_written(
    copie: Any, answers: dict[str, Any], message: str
) -> None:
    result = copie.copy(extra_answers={**BASE_ANSWERS, **answers})
    assert result.exit_code != 0
    assert isinstance(result.exception, ValueError)
    assert re.search(message, str(result.exception)), result.exception
    assert not [path for path in copie.test_dir.rglob("*") if path.is_file()]


def test_cli_refuses_bad_answers_with_exit_code_and_message(tmp_path: Path) -> None:
    destination = tmp_path / "out"
    answers = {**BASE_ANSWERS, "aws_account_id": "12345"}
    data = [arg for key, value in answers.items() for arg in ("--data", f"{key}={value}")]
    result = subprocess.run(
        ["copier", "copy", "--trust", "--defaults", *data, str(TEMPLATE), str(destination)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "aws_account_id: '12345' is not an AWS account id" in result.stderr
    assert not destination.exists() or not any(destination.iterdir())


def test_pre_commit_hooks_catch_a_planted_key(copie: Any) -> None:
    # Its own render: this test plants a key (the hooks passing is checked above).
    project = synced(Path(copie.copy(extra_answers=BASE_ANSWERS).project_dir))
    hooks = ["uv", "run", "pre-commit", "run", "--all-files", "--show-diff-on-failure"]
    leaked = project / "orders_api" / "leaked.py"
    # AWS's documented example key, split so this file holds no key itself.
    leaked.write_text('SECRET_ACCESS_KEY = "' + "wJalrXUtnFEMI/K7MDENG/" + 'bPxRfiCYEXAMPLEKEY"\n')
    run(["git", "add", "--all"], project)
    caught = subprocess.run(hooks, cwd=project, capture_output=True, text=True, check=False)
    assert caught.returncode != 0
    assert re.search(r"detect-secrets.*Failed", caught.stdout)
    assert "leaked.py" in caught.stdout


def test_readme_documents_bootstrap_deploy_order_and_runbook(large_project: Path) -> None:
    readme = (large_project / "README.md").read_text()
    assert "npx cdk bootstrap aws://123456789012/ap-northeast-1 \\" in readme
    assert "--qualifier ordersapi \\\n  --toolkit-stack-name CDKToolkit-ordersapi" in readme
    for env in ("Dev", "Staging", "Prod"):
        assert f"npx cdk deploy OrdersApi-{env}-Identity" in readme
    assert "dev → staging → prod" in readme
    assert "required reviewers" in readme and "cancel-in-progress: false" in readme
    for runbook in ("rotate-secret", "--auth-token-update-strategy ROTATE", "force-new-deployment"):
        assert runbook in readme, runbook
    assert "Node.js 22 or newer" in readme
    cdk_json = json.loads((large_project / "cdk.json").read_text())
    assert cdk_json["toolkitStackName"] == "CDKToolkit-ordersapi"


def test_readme_shows_the_sizing_presets_of_the_code(default_project: Path) -> None:
    readme = (default_project / "README.md").read_text()
    assert "| | `small` | `medium` | `large` |" in readme
    assert "| Database Multi-AZ | no | yes | yes |" in readme
    assert "| Tasks (autoscaling) | 1 → 2 | 2 → 6 | 3 → 12 |" in readme


def test_template_repository_runs_the_hooks_it_renders() -> None:
    # One pre-commit configuration for the template and every service: a symlink, not a copy.
    config = TEMPLATE / ".pre-commit-config.yaml"
    assert config.is_symlink()
    assert config.resolve() == (TEMPLATE / "template" / ".pre-commit-config.yaml").resolve()
    assert "pre-commit run --all-files" in (TEMPLATE / ".ci" / "run").read_text()
