"""Renders real projects and runs their own toolchain: ruff, pytest and the CDK CLI."""

from __future__ import annotations

import functools
import hashlib
import json
import keyword
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.data.schemas.extensions import aws_elasticache_cachecluster, aws_rds_dbinstance

from .support.commands import run
from .support.environments import synced
from .support.projects import GENERATED, PROJECTS, answers_of
from .support.template import BASE_ANSWERS, TEMPLATE, extension, load_module, readme_bash_blocks

# Jinja left behind; `${{ }}` is a GitHub Actions expression, not Jinja.
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%")


def test_every_question_has_type_and_help() -> None:
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    questions = {k: v for k, v in config.items() if not k.startswith("_")}
    assert {"service_name", "aws_account_id", "aws_region", "sizing", "github_repository"} <= set(
        questions
    )
    for name, question in questions.items():
        assert "type" in question, name
        # Asked questions explain themselves in lines a terminal shows whole ("🎤 " first).
        if question.get("when") is not False:
            assert "help" in question, name
            for line in question["help"].splitlines():
                assert len(line) <= TERMINAL_COLUMNS - 3, (name, line)


@pytest.mark.parametrize("fixture", PROJECTS)
def test_render_has_every_phase_and_no_jinja(fixture: str, request: pytest.FixtureRequest) -> None:
    project: Path = request.getfixturevalue(fixture)
    for name in ("app.py", "cdk.json", "package.json", "pyproject.toml", "service/Dockerfile"):
        assert (project / name).is_file(), name
    for module in ("identity", "state", "network", "datastore", "compute", "sizing", "policy"):
        assert (project / "orders_api" / f"{module}.py").is_file(), module
    for path in project.rglob("*"):
        if path.is_file() and not GENERATED.intersection(path.relative_to(project).parts):
            assert not UNRENDERED.search(path.read_text(errors="ignore")), path


def test_package_json_pins_the_cdk_cli(default_project: Path) -> None:
    version = json.loads((default_project / "package.json").read_text())["devDependencies"][
        "aws-cdk"
    ]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)


def test_cdk_json_carries_the_qualifier(default_project: Path) -> None:
    # The question's default, recorded in the answers and given to CDK.
    assert answers_of(default_project)["cdk_qualifier"] == default_qualifier("orders-api")
    context = json.loads((default_project / "cdk.json").read_text())["context"]
    assert context["@aws-cdk/core:bootstrapQualifier"] == default_qualifier("orders-api")


def default_qualifier(service_name: str) -> str:
    """What the template's default qualifier is documented to be: five letters and digits of
    the name and four hex digits of its SHA-1."""
    letters = "".join(c for c in service_name if c.isalnum())[:5]
    return letters + hashlib.sha1(service_name.encode()).hexdigest()[:4]


@pytest.mark.parametrize("names", [("payments-service", "payments-search"), ("a-b", "ab")])
def test_default_qualifiers_differ_for_different_services(names: tuple[str, str]) -> None:
    # Protects: two services never share a bootstrap stack by accident of their names. The
    # macro copier.yml's default calls, as copier loads it (a render answers with it:
    # test_cdk_json_carries_the_qualifier).
    naming = extension("naming")
    qualifiers = [naming.default_qualifier(name) for name in names]
    assert qualifiers == [default_qualifier(name) for name in names]
    assert qualifiers[0] != qualifiers[1]


def test_sizing_differs_between_small_and_large(default_project: Path, large_project: Path) -> None:
    small = (default_project / "orders_api" / "environments.py").read_text()
    large = (large_project / "orders_api" / "environments.py").read_text()
    assert 'SIZING_PRESETS["small"]' in small and 'SIZING_PRESETS["large"]' not in small
    assert 'SIZING_PRESETS["large"]' in large
    assert 'name="dev"' in large and 'name="staging"' in large


@pytest.mark.usefixtures("rendered_mypy_cache")
def test_the_synth_script_passes_mypy_strict_where_it_runs(default_project: Path) -> None:
    # Protects: tests/synth_templates.py runs in rendered projects' environments (this
    # repository's mypy leaves it out), so it is checked strictly in one, with its aws-cdk-lib.
    script = str(TEMPLATE / "tests" / "synth_templates.py")
    result = run(["uv", "run", "--locked", "mypy", "--strict", script], synced(default_project))
    assert result.stdout.startswith("Success: no issues found in 1 source file"), result.stdout


# Each rendered project's mypy reads the cache the default project's run fills.
@pytest.mark.usefixtures("rendered_mypy_cache")
@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("default_project", marks=pytest.mark.cost(45)),
        pytest.param("medium_project", marks=pytest.mark.cost(50)),
        pytest.param("large_project", marks=pytest.mark.cost(64)),
    ],
)
def test_rendered_project_passes_its_own_checks(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # scripts/check is what the project's CI and its developers run: the pre-commit hooks
    # (secret scan, ruff format and check, zizmor) over every file, its pytest, the pinned CDK
    # CLI's strict offline synth, and cfn-lint, which fails on any error or warning.
    # As the template's README writes it (git init, git add, uv sync --locked, npm ci, then
    # scripts/check): tests/test_readme.py proves its render is the default project.
    _, check = readme_bash_blocks("Render an example service")
    project = request.getfixturevalue(fixture)
    result = run(["bash", "-euo", "pipefail", "-c", check], project, timeout=900)
    tests, synth = result.stdout.split("==> strict offline synth")
    # The CDK CLI logs to stderr, or to stdout when CI=true.
    synth += result.stderr
    hooks = ("detect-secrets", "ruff format", "ruff check", "zizmor", "mypy --strict")
    for hook in hooks:
        assert re.search(rf"{hook}.*Passed", tests), hook
    # Both type checks ran: the CDK app's and the sample service's.
    assert len(re.findall(r"mypy --strict.*Passed", tests)) == 2
    # pytest's closing line: passes, skips for workloads the project lacks, nothing else.
    assert re.search(r"^=+ \d+ passed(, \d+ skipped)? in ", tests, re.MULTILINE), tests[-3000:]
    if os.environ.get("SAMPLE_SERVICE_INTEGRATION"):
        # PostgreSQL and Redis are installed (.ci/run): the tests that start them ran (the
        # others skip only for a workload the project does not have).
        assert not re.findall(r"^SKIPPED .*: needs .*$", tests, re.MULTILINE), tests[-3000:]
    assert "Successfully synthesized" in synth and "warning" not in synth.lower()
    assert (project / "cdk.out" / "OrdersApi-Prod-Compute.template.json").is_file()


ZONE = {"domain_name": "orders.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}
DEV = {"environments": ["dev", "prod"], "dev_account_id": "210987654321"}
JOB = {"workloads": ["scheduled_job"]}
# (answers, the question refused, its rule, the value copier must name)
BAD_ANSWERS: list[tuple[dict[str, Any], str, str, str]] = [
    (
        {"service_name": "Orders_API"},
        "service_name",
        "a-z 0-9 -, letter first, no - last",
        "Orders_API",
    ),
    ({"service_name": "orders-"}, "service_name", "a-z 0-9 -, letter first, no - last", "orders-"),
    ({"service_name": "orders--api"}, "service_name", "no two hyphens in a row", "orders--api"),
    ({"service_name": "a" * 25}, "service_name", "at most 24 characters", "a" * 25),
    (
        {"service_name": "internal-api"},
        "service_name",
        "must not begin with internal",
        "internal-api",
    ),
    ({"service_name": "internal"}, "service_name", "must not begin with internal", "internal"),
    # Its package (hyphens as underscores) would break the app: a keyword, a module it
    # imports (the standard library's, a dependency's), or a folder the project has.
    ({"service_name": "class"}, "service_name", "a Python keyword as a package", "class"),
    ({"service_name": "email"}, "service_name", "would hide a Python module", "email"),
    ({"service_name": "aws-cdk"}, "service_name", "would hide a Python module", "aws-cdk"),
    ({"service_name": "tests"}, "service_name", "a project folder has that name", "tests"),
    ({"aws_account_id": "12345"}, "aws_account_id", "must be 12 digits", "12345"),
    ({"aws_account_id": "1234567890123"}, "aws_account_id", "must be 12 digits", "1234567890123"),
    ({"aws_region": "mars-north-1"}, "aws_region", "no zone table for this region", "mars-north-1"),
    # A real region the zone table lacks: the rule says what is missing.
    ({"aws_region": "eu-south-1"}, "aws_region", "no zone table for this region", "eu-south-1"),
    ({"github_repository": "acme"}, "github_repository", "give owner/name", "acme"),
    (
        {"github_repository": "acme/bad name"},
        "github_repository",
        "give owner/name",
        "acme/bad name",
    ),
    (
        {"github_repository": "acme/orders-api.git"},
        "github_repository",
        "give owner/name, without .git",
        "acme/orders-api.git",
    ),
    (
        {"github_repository": "https://github.com/acme/orders-api"},
        "github_repository",
        "give owner/name, not a URL",
        "https://github.com/acme/orders-api",
    ),
    (
        {"github_repository": "git@github.com:acme/api"},
        "github_repository",
        "give owner/name, not a URL",
        "git@github.com:acme/api",
    ),
    ({"github_owner_id": "acme"}, "github_owner_id", "digits, no leading 0", "acme"),
    ({"github_repository_id": "0123"}, "github_repository_id", "digits, no leading 0", "0123"),
    ({"environments": ["dev"]}, "environments", "prod is required", "dev"),
    ({**DEV, "dev_account_id": "1234"}, "dev_account_id", "must be 12 digits", "1234"),
    (
        {**DEV, "dev_account_id": "123456789012"},
        "dev_account_id",
        "same as prod; sharing is off",
        "123456789012",
    ),
    (
        {"environments": ["staging", "prod"], "staging_account_id": "123456789012"},
        "staging_account_id",
        "same as prod; sharing is off",
        "123456789012",
    ),
    ({"health_check_path": "health"}, "health_check_path", "start with /; a-z 0-9 /_.-", "health"),
    ({"health_check_path": "/ready"}, "health_check_path", "/ and /ready are taken", "/ready"),
    (
        {"cdk_qualifier": "Too-Long-Qualifier"},
        "cdk_qualifier",
        "1 to 10 of a-z and 0-9",
        "Too-Long-Qualifier",
    ),
    ({"domain_name": "Not A Domain"}, "domain_name", "not a lowercase DNS name", "Not A Domain"),
    ({"alarm_email": "oncall"}, "alarm_email", "a name@domain address, or empty", "oncall"),
    (
        {"alarm_email": "a@example.com,b@example.com"},
        "alarm_email",
        "a name@domain address, or empty",
        "a@example.com,b@example.com",
    ),
    ({"workloads": []}, "workloads", "pick at least one", "[]"),
    ({**JOB, "job_name": "Daily"}, "job_name", "a-z 0-9 _, letter first", "Daily"),
    ({**JOB, "job_name": "daily-report"}, "job_name", "a-z 0-9 _, letter first", "daily-report"),
    ({**JOB, "job_name": "j" * 33}, "job_name", "at most 32 characters", "j" * 33),
    ({**JOB, "job_name": "import"}, "job_name", "not a Python keyword", "import"),
    # Its tests would replace the sample service's (service/tests/test_<name>.py).
    ({**JOB, "job_name": "app"}, "job_name", "the service's tests use test_<name>.py", "app"),
    (
        {**JOB, "job_schedule": "every day"},
        "job_schedule",
        "give cron(...) or rate(...)",
        "every day",
    ),
    (
        {**JOB, "job_schedule": "cron(0 25 * * ? *)"},
        "job_schedule",
        "cron: a field out of range",
        "cron(0 25 * * ? *)",
    ),
    (
        {**JOB, "job_schedule": "cron(0/0 * * * ? *)"},
        "job_schedule",
        "cron: a field out of range",
        "cron(0/0 * * * ? *)",
    ),
    (
        {**JOB, "job_schedule": "at(2027-01-01T00:00:00)"},
        "job_schedule",
        "give cron(...) or rate(...)",
        "at(2027-01-01T00:00:00)",
    ),
    (
        {**JOB, "job_schedule": "cron(0 3 * * ?)"},
        "job_schedule",
        "cron needs 6 fields",
        "cron(0 3 * * ?)",
    ),
    (
        {**JOB, "job_schedule": "cron(0 3 * * * *)"},
        "job_schedule",
        "cron: ? in exactly one day field",
        "cron(0 3 * * * *)",
    ),
    (
        {**JOB, "job_schedule": "cron(0 3 ? * ? *)"},
        "job_schedule",
        "cron: ? in exactly one day field",
        "cron(0 3 ? * ? *)",
    ),
    (
        {**JOB, "job_schedule": "cron(0 3 * * ? $)"},
        "job_schedule",
        "cron: 0-9 A-Z , - * / ? L W # only",
        "cron(0 3 * * ? $)",
    ),
    (
        {**JOB, "job_schedule": "rate(2 weeks)"},
        "job_schedule",
        "rate(<n> minutes|hours|days)",
        "rate(2 weeks)",
    ),
    (
        {**JOB, "job_schedule": "rate(0 days)"},
        "job_schedule",
        "rate(<n> minutes|hours|days)",
        "rate(0 days)",
    ),
    (
        {**JOB, "job_schedule": "rate(1 hours)"},
        "job_schedule",
        "rate(1 hour), rate(2 hours)",
        "rate(1 hours)",
    ),
    (
        {**JOB, "job_schedule": "rate(5 minute)"},
        "job_schedule",
        "rate(1 hour), rate(2 hours)",
        "rate(5 minute)",
    ),
    (
        {**JOB, "job_schedule": "cron(" + "0," * 30 + "1 3 * * ? *)"},
        "job_schedule",
        "at most 64 characters",
        "cron(" + "0," * 30 + "1 3 * * ? *)",
    ),
    # Combinations that cannot work.
    ({**ZONE, "hosted_zone_id": "bad"}, "hosted_zone_id", "not a hosted zone id (Z...)", "bad"),
    # A compliance pack with the API asks for HTTPS in production: a domain.
    (
        {"compliance_packs": ["hipaa", "pci-dss"]},
        "compliance_packs",
        "needs a domain_name (HTTPS)",
        "hipaa, pci-dss",
    ),
    (
        {**ZONE, "hosted_zone_name": "other.com"},
        "hosted_zone_name",
        "not the domain or its parent",
        "other.com",
    ),
]
# Copier refuses answers outside a question's choices itself.
BAD_CHOICES: list[tuple[dict[str, Any], str]] = [
    ({"sizing": "huge"}, r"'sizing': 'huge' is not in \['small', 'medium', 'large'\]"),
    ({"environments": ["qa", "prod"]}, r"'environments': 'qa' is not in"),
    ({"cpu_architecture": "amd64"}, r"'cpu_architecture': 'amd64' is not in \['arm64', 'x86_64'\]"),
    ({"workloads": ["api", "cron"]}, r"'workloads': 'cron' is not in"),
    ({"compliance_packs": ["sox"]}, r"'compliance_packs': 'sox' is not in"),
    # A choice's own rule: a new service's production would stop at its database, RDS
    # offering no such class there (a terminal greys the choice out with the same words).
    (
        {"aws_region": "eu-west-3", "sizing": "large"},
        r"^Invalid choice for 'sizing': RDS has no db\.r7g\.xlarge in eu-west-3$",
    ),
]
# What a terminal shows of a refusal: one line, cut at its width.
TERMINAL_COLUMNS = 80


@pytest.mark.parametrize(("answers", "question", "rule", "value"), BAD_ANSWERS)
def test_bad_answers_are_refused_and_nothing_is_written(
    copie: Any, answers: dict[str, Any], question: str, rule: str, value: str
) -> None:
    result = copie.copy(extra_answers={**BASE_ANSWERS, **answers})
    assert result.exit_code != 0
    assert isinstance(result.exception, ValueError)
    message = str(result.exception)
    shown = f"Validation error for question '{question}': {rule}"
    assert message.startswith(shown), message
    assert f'(got "{value}")' in message or (question == "environments" and value in message)
    # The rule stays readable in an 80-column terminal; only a long value is cut.
    assert len(shown) <= TERMINAL_COLUMNS, shown
    assert not [path for path in copie.test_dir.rglob("*") if path.is_file()]


def _package_like(names: Iterable[str]) -> set[str]:
    """The names a service name can become as a package: a-z 0-9 _, letter first."""
    return {name for name in names if re.fullmatch(r"[a-z][a-z0-9_]*", name) and "__" not in name}


def test_service_names_that_would_hide_a_module_the_app_imports_are_listed(
    default_project: Path,
) -> None:
    # Protects: the list service_name's validator refuses covers this Python's standard
    # library and every top-level module of the rendered app's environment (a dependency
    # that Renovate adds lands here first: refresh the list, never the test).
    validators = extension("validators")
    standard_library = set(validators.STANDARD_LIBRARY_MODULES)
    assert _package_like(sys.stdlib_module_names) <= standard_library
    site_packages = next((default_project / ".venv" / "lib").glob("python3*/site-packages"))
    installed: set[str] = set()
    for path in site_packages.iterdir():
        if path.name.endswith(".dist-info"):
            top_level = path / "top_level.txt"
            if top_level.is_file():
                installed.update(top_level.read_text().split())
        elif (path / "__init__.py").is_file():
            installed.add(path.name)
        elif path.suffix == ".py":
            installed.add(path.stem)
    listed = standard_library | set(validators.DEPENDENCY_MODULES)
    assert _package_like(installed) - listed == set()


@pytest.mark.parametrize(("answers", "message"), BAD_CHOICES)
def test_answers_outside_the_choices_are_refused(
    copie: Any, answers: dict[str, Any], message: str
) -> None:
    result = copie.copy(extra_answers={**BASE_ANSWERS, **answers})
    assert result.exit_code != 0
    assert re.search(message, str(result.exception)), result.exception
    assert not [path for path in copie.test_dir.rglob("*") if path.is_file()]


def test_cli_refuses_bad_answers_with_exit_code_and_message(tmp_path: Path) -> None:
    destination = tmp_path / "out"
    answers = {**BASE_ANSWERS, "aws_account_id": "12345"}
    data = [arg for key, value in answers.items() for arg in ("--data", f"{key}={value}")]
    result = subprocess.run(
        # Copier alone: no --trust, no extension package.
        ["copier", "copy", "--defaults", *data, str(TEMPLATE), str(destination)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "question 'aws_account_id': must be 12 digits (got \"12345\")" in result.stderr
    assert not destination.exists() or not any(destination.iterdir())


@functools.cache
def _rds_instance_classes() -> dict[str, Any]:
    """cfn-lint's RDS classes per region and engine (its rule E3025's data, from the AWS
    Pricing API): read once, about 50 ms a read."""
    path = Path(aws_rds_dbinstance.__file__).parent / "dbinstanceclass_enum.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _postgres_classes(region: str) -> set[str]:
    """The RDS for PostgreSQL classes cfn-lint knows a region offers."""
    for case in _rds_instance_classes()[region]["allOf"]:
        if case["if"]["properties"].get("Engine", {}).get("const") == "postgres":
            return set(case["then"]["properties"]["DBInstanceClass"]["enum"])
    raise AssertionError(f"cfn-lint has no PostgreSQL classes for {region}")


def test_the_presets_refused_in_a_region_are_those_rds_does_not_offer_there() -> None:
    # Protects: the table the sizing question's rule reads follows cfn-lint's data (a new
    # cfn-lint may add a class to a region, or drop one), for every region of the zone table.
    presets = extension("sizing").SIZING_PRESETS
    regions = extension("regions")
    missing = {
        region: [
            preset["database_instance_type"]
            for preset in presets.values()
            if f"db.{preset['database_instance_type']}" not in _postgres_classes(region)
        ]
        for region in regions.REGION_AVAILABILITY_ZONES
    }
    assert {region: found for region, found in missing.items() if found} == dict(
        regions.DATABASE_CLASSES_NOT_OFFERED
    )


def test_every_presets_redis_node_type_is_offered_in_every_region() -> None:
    # Protects: a node type ElastiCache does not offer in the region stops the first deploy at
    # the cache. cfn-lint's rule E3647 checks node types against AWS's pricing data per region
    # for AWS::ElastiCache::CacheCluster only, not for the replication group the template
    # creates, so no rendered check would say it (the rendered tests read the same data for
    # what a team changes). Today every preset is offered in every region of the zone table;
    # a cfn-lint that says otherwise fails here, and the sizing question then needs a rule
    # like the database's (DATABASE_CLASSES_NOT_OFFERED).
    path = Path(aws_elasticache_cachecluster.__file__).parent / "cachenodetype_enum.json"
    offered = json.loads(path.read_text())
    presets = extension("sizing").SIZING_PRESETS
    missing = {
        region: [
            preset["cache_node_type"]
            for preset in presets.values()
            if preset["cache_node_type"] not in offered.get(region, {}).get("enum", [])
        ]
        for region in extension("regions").REGION_AVAILABILITY_ZONES
    }
    assert {region: found for region, found in missing.items() if found} == {}


def test_cfn_lint_checks_the_templates_against_the_services_region(
    default_project: Path, tmp_path: Path
) -> None:
    # Protects: the project's cfn-lint (scripts/check's, an editor's) reads .cfnlintrc.yaml and
    # checks against the service's region, not its default us-east-1: a PostgreSQL class that
    # us-east-1 offers and the service's region does not is refused.
    region = BASE_ANSWERS["aws_region"]
    only_in_us_east_1 = sorted(_postgres_classes("us-east-1") - _postgres_classes(region))
    assert only_in_us_east_1, f"pick another probe: {region} offers every us-east-1 class"
    absent = only_in_us_east_1[0]
    probe = {
        "Resources": {
            "Database": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "Engine": "postgres",
                    "DBInstanceClass": absent,
                    "AllocatedStorage": "20",
                    "MasterUsername": "probe",
                    "ManageMasterUserPassword": True,
                },
            }
        }
    }
    # Outside the project: its own check lints whatever cdk.out holds, meanwhile.
    template = tmp_path / "region-probe.template.json"
    template.write_text(json.dumps(probe))
    linted = subprocess.run(
        ["uv", "run", "--locked", "cfn-lint", str(template)],
        cwd=synced(default_project),
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode != 0, linted.stdout
    assert f"E3025 '{absent}' is not one of" in linted.stdout
    assert f"in '{region}'" in linted.stdout


@pytest.mark.cost(10)
@pytest.mark.usefixtures("rendered_mypy_cache")
def test_pre_commit_hooks_catch_a_planted_key_a_wrong_type_and_an_unchecked_module(
    copie: Any,
) -> None:
    # Its own render: this test plants a key and a type error (the hooks passing on a clean
    # render is checked above); `scripts/check` runs the same hooks first and stops on them.
    project = synced(Path(copie.copy(extra_answers=BASE_ANSWERS).project_dir))
    leaked = project / "orders_api" / "leaked.py"
    # AWS's documented example key, split so this file holds no key itself.
    leaked.write_text('SECRET_ACCESS_KEY = "' + "wJalrXUtnFEMI/K7MDENG/" + 'bPxRfiCYEXAMPLEKEY"\n')
    # A task size as text where the compute stack passes a number: synth would not notice.
    compute = project / "orders_api" / "compute.py"
    source = compute.read_text()
    assert "cpu=sizing.task_cpu," in source
    compute.write_text(source.replace("cpu=sizing.task_cpu,", "cpu=str(sizing.task_cpu),", 1))
    # An aws_cdk module mypy does not follow (its types would be Any): refused by name.
    table = project / "orders_api" / "table.py"
    table.write_text("from aws_cdk import aws_dynamodb as dynamodb\n\nTABLE = dynamodb.Table\n")
    run(["git", "add", "--all"], project)
    caught = subprocess.run(
        ["bash", "scripts/check"], cwd=project, capture_output=True, text=True, check=False
    )
    assert caught.returncode != 0
    assert re.search(r"detect-secrets.*Failed", caught.stdout)
    assert "leaked.py" in caught.stdout
    assert re.search(r"mypy --strict \(the CDK app.*Failed", caught.stdout)
    assert re.search(r"orders_api/compute\.py:\d+: error: .*\[arg-type\]", caught.stdout)
    assert 'orders_api/table.py:1: error: Import of "aws_cdk.aws_dynamodb" ignored' in caught.stdout


# Imports of aws_cdk modules in the template's Python (`from aws_cdk import aws_ecs as ecs`,
# `from aws_cdk.assertions import Template`, `import aws_cdk.aws_ecs`).
AWS_CDK_IMPORT = re.compile(
    r"^\s*(?:from aws_cdk import (?P<child>[a-z]\w*)\b|from (?P<from>aws_cdk\.[\w.]+) import"
    r"|import (?P<module>aws_cdk\.[\w.]+))",
    re.MULTILINE,
)


def test_mypy_follows_exactly_the_aws_cdk_modules_the_template_imports(
    default_project: Path,
) -> None:
    # Protects: the list of followed modules in the rendered pyproject.toml (ADR 0011) holds
    # every module the template's code imports (mypy would refuse a missing one, but only in
    # renders that import it) and nothing it no longer imports (each costs mypy's first run).
    imported = set()
    for path in (TEMPLATE / "template").rglob("*"):
        if path.suffix == ".py" or path.name.endswith(".py.jinja"):
            source = path.read_text()
            assert "from aws_cdk import (" not in source, path  # one import per line
            for found in AWS_CDK_IMPORT.finditer(source):
                child, parent, module = found.group("child", "from", "module")
                imported.add(f"aws_cdk.{child}" if child else parent or module)
    overrides = tomllib.loads((default_project / "pyproject.toml").read_text())["tool"]["mypy"][
        "overrides"
    ]
    followed = next(o["module"] for o in overrides if o.get("follow_imports") == "normal")
    refused = next(o["module"] for o in overrides if o.get("follow_imports") == "error")
    assert refused == ["aws_cdk.*"]
    # The package itself, and what the followed modules' signatures use.
    signatures = {"aws_cdk", "aws_cdk.cloud_assembly_schema", "aws_cdk.interfaces.*"}
    assert set(followed) == imported | signatures
    assert followed == sorted(followed)


def heading_problems(markdown: str) -> list[str]:
    """Headings that Markdown would not show as headings: glued to the line before (a Jinja
    tag that trimmed the blank line away), or without a blank line above."""
    problems, fenced, previous = [], False, ""
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            if re.search(r"[^\s#]#{2,6} [A-Z]", line):
                problems.append(f"{number}: a heading inside a line: {line}")
            elif re.match(r"#{1,6} ", line) and previous.strip():
                problems.append(f"{number}: no blank line before: {line}")
        previous = line
    return problems


@pytest.mark.parametrize("fixture", ["default_project", "medium_project", "large_project"])
def test_rendered_markdown_keeps_every_heading_on_a_line_of_its_own(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # Protects: optional sections (backups, drift, workloads) join their neighbours cleanly
    # whichever answers leave them out; the medium project has neither backups nor drift.
    project: Path = request.getfixturevalue(fixture)
    # What the template rendered, not what installs and synths left beside it (other tests'
    # npm ci, uv sync and cdk synth run in the same project, in any order).
    left_by_tools = {".venv", "node_modules", "cdk.out", ".pytest_cache", ".mypy_cache", ".git"}
    pages = []
    for folder, subfolders, files in os.walk(project):
        subfolders[:] = [name for name in subfolders if name not in left_by_tools]
        pages += [Path(folder) / name for name in files if name.endswith(".md")]
    assert len(pages) > 2
    problems = {
        str(page.relative_to(project)): found
        for page in pages
        if (found := heading_problems(page.read_text()))
    }
    assert problems == {}


def test_readme_documents_bootstrap_deploy_order_and_runbook(large_project: Path) -> None:
    readme = (large_project / "README.md").read_text()
    base = default_qualifier("orders-api")
    # Three environments in one account: three bootstrap stacks, each with the scoped policy.
    for env in ("dev", "staging", "prod"):
        # tests/test_bootstrap.py runs these commands against a local AWS-protocol server.
        policy = f"arn:aws:iam::123456789012:policy/orders-api-{env}-cdk-execution"
        assert (
            "npx cdk bootstrap aws://123456789012/ap-northeast-1 \\\n"
            f"  --qualifier {base}{env[0]} \\\n"
            f"  --toolkit-stack-name CDKToolkit-{base}{env[0]} \\\n"
            f"  --cloudformation-execution-policies {policy} \\\n"
            f"  --custom-permissions-boundary orders-api-{env}-cdk-bootstrap-boundary \\\n"
            "  --apply-permissions-boundary-to-all-roles\n"
        ) in readme, env
        assert f"uv run python -m orders_api.execution_policy {env} >" in readme
        assert f"npx cdk deploy OrdersApi-{env.capitalize()}-Identity" in readme
    assert readme.index("npx cdk bootstrap") < readme.index("cdk deploy OrdersApi-Dev-Identity")
    assert "dev → staging → prod" in readme
    assert "required reviewers" in readme and "cancel-in-progress: false" in readme
    for runbook in (
        "rotate-secret",
        # The token rotates by itself (a compliance pack turns it on); SET drops a leaked one.
        "CacheTokenRotationLogGroupName",
        "--auth-token-update-strategy SET",
        "force-new-deployment",
        "stop-service-deployment",
        "aws ecs execute-command",
        "create-slack-channel-configuration",
    ):
        assert runbook in readme, runbook
    # Large production shifts traffic linearly; the others roll.
    assert "- `prod`: **linear**" in readme and "- `dev`: **rolling**" in readme
    assert "`oncall@example.com` is subscribed" in readme
    assert "Node.js 22 or newer" in readme
    cdk_json = json.loads((large_project / "cdk.json").read_text())
    assert cdk_json["toolkitStackName"] == f"CDKToolkit-{base}"


def test_readme_without_options_says_how_to_turn_them_on(default_project: Path) -> None:
    readme = (default_project / "README.md").read_text()
    assert "The topic has no subscriber yet" in readme
    assert "--data enable_ecs_exec=true" in readme and "aws ecs execute-command" not in readme
    assert "- `prod`: **rolling**" in readme


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


# The python:3.13-slim image index the sample service's Dockerfile is pinned to (its comment
# names the source): one digest for x86_64 and arm64 tasks.
PYTHON_INDEX_DIGEST = "sha256:7c61056e61ac89e852de05f3dc6fa51a6dd2181797bceed46aa725dd7cb2cd3b"  # pragma: allowlist secret


def test_the_service_image_builds_for_both_architectures() -> None:
    # Protects: both stages start from the multi-platform index verified in the Dockerfile's
    # comment, and every runtime dependency the service locks installs on arm64 from a wheel
    # (nothing is compiled under emulation in CI).
    service = TEMPLATE / "template" / "service"
    bases = re.findall(r"^FROM (\S+)", (service / "Dockerfile").read_text(), re.MULTILINE)
    assert bases == [f"python:3.13-slim@{PYTHON_INDEX_DIGEST}"] * 2
    lock = tomllib.loads((service / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    runtime = {dependency["name"] for dependency in packages["sample-service"]["dependencies"]}
    seen: set[str] = set()
    while runtime - seen:
        name = (runtime - seen).pop()
        seen.add(name)
        runtime |= {dependency["name"] for dependency in packages[name].get("dependencies", [])}
    for name in sorted(seen):
        wheels = [wheel["url"].rsplit("/", 1)[1] for wheel in packages[name].get("wheels", [])]
        assert any(
            wheel.endswith("-none-any.whl")
            or ("aarch64" in wheel and "manylinux" in wheel and re.search(r"-(cp313|abi3)-", wheel))
            for wheel in wheels
        ), name


def test_database_and_cache_presets_stay_on_graviton() -> None:
    # Protects: PostgreSQL and Redis run on Graviton classes in every preset, as the tasks do
    # by default (t4g, m7g, r7g: the cost estimate prices those).
    presets = load_module("template/{{ package_name }}/sizing.py").SIZING_PRESETS
    for name, preset in presets.items():
        assert re.fullmatch(r"(t|m|r)\d+g\.\w+", preset.database_instance_type), name
        assert re.fullmatch(r"cache\.(t|m|r)\d+g\.\w+", preset.cache_node_type), name


def test_job_names_refuse_every_python_keyword() -> None:
    # Protects: the validator's list is Python's (a job is `python -m app.jobs.<name>`).
    listed = extension("validators").PYTHON_KEYWORDS
    assert sorted(listed) == sorted(word for word in keyword.kwlist if word.islower())


@pytest.mark.parametrize(
    ("fixture", "rotated"),
    [("default_project", True), ("medium_project", False), ("large_project", True)],
)
def test_the_redis_token_rotates_for_new_services_and_with_a_pack(
    fixture: str, rotated: bool, request: pytest.FixtureRequest
) -> None:
    # Protects: a new service (and any with a compliance pack) rotates its Redis AUTH token;
    # one that answered no keeps the manual runbook and learns how to turn rotation on.
    project = request.getfixturevalue(fixture)
    environments = (project / "orders_api" / "environments.py").read_text()
    assert ("cache_token_rotation=True" in environments) is rotated
    readme = (project / "README.md").read_text()
    assert ("CacheTokenRotationLogGroupName" in readme) is rotated
    assert ("--auth-token-update-strategy ROTATE" in readme) is not rotated
    assert ("--data cache_token_rotation=true" in readme) is not rotated


@pytest.mark.parametrize(
    ("fixture", "worker", "job"),
    [
        ("default_project", False, False),
        ("medium_project", True, False),
        ("large_project", True, True),
    ],
)
def test_the_sample_service_has_the_workloads_it_runs(
    fixture: str, worker: bool, job: bool, request: pytest.FixtureRequest
) -> None:
    # Protects: the worker's and the job's code and tests come with the workload, and only
    # with it; a job's module is named after its answer.
    service = request.getfixturevalue(fixture) / "service"
    assert (service / "app" / "worker.py").is_file() is worker
    assert (service / "tests" / "test_worker.py").is_file() is worker
    assert (service / "app" / "jobs" / "daily_report.py").is_file() is job
    assert (service / "tests" / "test_daily_report.py").is_file() is job
    assert (service / "app" / "jobs").exists() is job
