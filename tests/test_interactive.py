"""`copier copy` as a person runs it: in a terminal, answering each prompt by hand.

The copy runs in a pseudo-terminal (pexpect) of 80 columns, and a terminal emulator (pyte)
keeps the screen, so the tests read what the person reads: every help line whole, a refused
answer re-asked with its rule, a refused choice greyed out with its rule, and no traceback on
any path through the questions. (An update's refused choices: tests/test_upgrade.py.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .support.projects import answers_of
from .support.template import TEMPLATE
from .support.terminal import BACKSPACE, DOWN, ENTER, SPACE, UP, Terminal


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    copier = shutil.which("copier")
    assert copier, "copier must be installed (uv sync)"
    started: list[Terminal] = []

    def start(destination: str = "orders-api") -> Terminal:
        # HEAD, not the newest tag: the tree under test.
        session = Terminal([copier, "copy", "--vcs-ref=HEAD", str(TEMPLATE), destination], tmp_path)
        started.append(session)
        return session

    yield start
    for session in started:
        if session.child.isalive():
            session.child.terminate(force=True)


def _common_start(term: Terminal, *, sizing_keys: str = ENTER) -> None:
    term.answer("Service name", "orders-api" + ENTER)
    term.answer("account id of production", "123456789012" + ENTER)
    term.answer("region every environment", ENTER)
    term.answer("Size of production", sizing_keys)
    term.answer("GitHub repository (owner/name)", "acme/orders-api" + ENTER)


def _default_options(
    term: Terminal, *, non_production: bool, api: bool = True, governance: bool = True
) -> None:
    """The last questions, each answered with its default (the PR diff: yes; arm64; Spot
    outside production, asked only when there are other environments; the liveness path only
    with an API)."""
    if api:
        term.answer("liveness path", ENTER)
    term.answer("Qualifier of this service's CDK bootstrap", ENTER)
    term.answer("How production's subnets are numbered", ENTER)  # fixed
    term.answer("What keeps dependencies and this template current", ENTER)  # renovate
    term.answer("pull-request job", "y")
    term.answer("on-call email address", ENTER)  # none
    term.answer("shell in running tasks (ECS Exec)", "n")
    term.answer("processor the service's tasks run on", ENTER)  # arm64
    if non_production:
        term.answer("Run dev and staging on Fargate Spot", ENTER)  # yes
    if governance:
        _default_governance(term)


def _default_governance(term: Terminal) -> None:
    """No compliance pack, production's backup plan, the Redis token's rotation and the
    drift check: the defaults."""
    term.answer("cdk-nag compliance packs checked on every synth", ENTER)
    term.answer("Copy production's database into an AWS Backup vault", ENTER)  # yes
    term.answer("Lock the backup vaults in compliance mode", ENTER)  # no
    term.answer("Rotate the Redis AUTH token every 30 days", ENTER)  # yes
    term.answer("Check every environment for drift", ENTER)  # yes
    term.answer(
        "Cap every role the pipeline's stacks create with a permissions boundary", ENTER
    )  # yes


@pytest.mark.cost(7)
def test_one_environment_no_domain_with_a_refused_answer(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    term = terminal()
    term.answer("Service name", "Orders_API" + ENTER)
    # Refused: the rule shows whole on one line, and the question is asked again.
    line = term.wait_for_line("Validation error for question 'service_name'")
    assert "a-z 0-9 -, letter first, no - last" in line
    term.child.send(BACKSPACE * len("Orders_API") + "orders-api" + ENTER)
    term.answer("account id of production", "123456789012" + ENTER)
    term.answer("region every environment", BACKSPACE * len("ap-northeast-1") + "eu-west-3" + ENTER)
    # RDS offers no large preset's database class in eu-west-3: the choice is greyed out with
    # its rule, and the arrow keys pass over it.
    term.wait_for_line("- large (RDS has no db.r7g.xlarge in eu-west-3)")
    term.child.send(DOWN + ENTER)  # medium
    term.answer("GitHub repository (owner/name)", "acme/orders-api.git" + ENTER)
    line = term.wait_for_line("Validation error for question 'github_repository'")
    assert "give owner/name, without .git" in line
    term.child.send(BACKSPACE * len(".git") + ENTER)
    term.answer("name-only", "n")
    term.answer("numeric id of the repository's owner", "1234567" + ENTER)
    term.answer("numeric id of the repository (the second", "7654321" + ENTER)
    term.answer("Environments, deployed in the order", ENTER)
    term.answer("What the service runs", ENTER)  # the API alone
    term.answer("public domain of production", ENTER)
    term.answer("one GitHub OIDC provider per account", "n")
    _default_options(term, non_production=False, governance=False)
    # A pack with the API but no domain is refused (HTTPS in production); unselected again.
    term.answer("cdk-nag compliance packs checked on every synth", DOWN + SPACE + ENTER)
    line = term.wait_for_line("Validation error for question 'compliance_packs'")
    assert "needs a domain_name (HTTPS)" in line
    term.child.send(SPACE + ENTER)
    term.answer("Copy production's database into an AWS Backup vault", ENTER)  # yes
    term.answer("Lock the backup vaults in compliance mode", ENTER)  # no
    term.answer("Rotate the Redis AUTH token every 30 days", ENTER)  # yes
    term.answer("Check every environment for drift", ENTER)  # yes
    term.answer(
        "Cap every role the pipeline's stacks create with a permissions boundary", ENTER
    )  # yes
    assert term.finish() == 0, term.transcript[-2000:]
    assert "Traceback" not in term.transcript
    assert "Fargate Spot" not in term.transcript  # nothing outside production to run on it
    answers = answers_of(tmp_path / "orders-api")
    assert (answers["aws_region"], answers["sizing"]) == ("eu-west-3", "medium")
    assert answers["cpu_architecture"] == "arm64"
    assert "spot_in_non_production" not in answers
    assert answers["github_repository"] == "acme/orders-api"
    assert answers["environments"] == ["prod"]
    assert (answers["github_owner_id"], answers["github_repository_id"]) == ("1234567", "7654321")
    assert "hosted_zone_id" not in answers
    assert answers["workloads"] == ["api"]
    assert "job_name" not in answers and "scheduled job" not in term.transcript
    assert answers["compliance_packs"] == []
    assert (answers["backup_plan"], answers["drift_detection"]) == (True, True)
    assert answers["cache_token_rotation"] is True
    assert answers["permissions_boundary"] is True
    assert answers["backup_vault_lock"] is False


@pytest.mark.cost(7)
def test_three_environments_a_domain_and_an_imported_provider(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    term = terminal()
    _common_start(term, sizing_keys=DOWN + DOWN + ENTER)  # large
    term.answer("name-only", "n")
    term.answer("numeric id of the repository's owner", "1234567" + ENTER)
    term.answer("numeric id of the repository (the second", "7654321" + ENTER)
    # dev and staging join the preselected prod.
    term.answer("Environments, deployed in the order", SPACE + DOWN + SPACE + ENTER)
    term.answer("May dev or staging use production's AWS account?", ENTER)  # no
    term.answer("account id of dev", "123456789012" + ENTER)
    line = term.wait_for_line("Validation error for question 'dev_account_id'")
    assert "same as prod; sharing is off" in line
    term.child.send(BACKSPACE * 12 + "210987654321" + ENTER)
    term.answer("account id of staging", "210987654322" + ENTER)
    # The worker and the scheduled job join the preselected API.
    term.answer("What the service runs", DOWN + SPACE + DOWN + SPACE + ENTER)
    # Its name replaces the default (daily_report), first with a refused one.
    term.answer("first scheduled job's name", BACKSPACE * 12 + "nightly-cleanup" + ENTER)
    line = term.wait_for_line("Validation error for question 'job_name'")
    assert "a-z 0-9 _, letter first" in line
    term.child.send(BACKSPACE * len("nightly-cleanup") + "nightly_cleanup" + ENTER)
    term.answer("When it runs, in UTC", BACKSPACE * 20 + "cron(0 4 * * * *)" + ENTER)
    line = term.wait_for_line("Validation error for question 'job_schedule'")
    assert "cron: ? in exactly one day field" in line
    term.child.send(BACKSPACE * 20 + "rate(6 hours)" + ENTER)
    term.answer("public domain of production", "orders.example.com" + ENTER)
    # The question that used to crash: its prompt shows, with no default to fail.
    term.answer("hosted zone id", "Z0123456789ABCDEFGHIJ" + ENTER)
    term.answer("name of that hosted zone", ENTER)  # example.com, derived
    term.answer("one GitHub OIDC provider per account", "y")
    term.answer("liveness path", ENTER)
    term.answer("Qualifier of this service's CDK bootstrap", ENTER)
    term.answer("How production's subnets are numbered", ENTER)  # fixed
    term.answer("What keeps dependencies and this template current", ENTER)  # renovate
    term.answer("pull-request job", "n")
    term.answer("on-call email address", "oncall@" + ENTER)
    line = term.wait_for_line("Validation error for question 'alarm_email'")
    assert "a name@domain address, or empty" in line
    term.child.send("example.com" + ENTER)
    term.answer("shell in running tasks (ECS Exec)", "y")
    term.answer("processor the service's tasks run on", DOWN + ENTER)  # x86_64
    term.answer("Run dev and staging on Fargate Spot", ENTER)  # yes
    # NIST 800-53 and PCI DSS: every database then has a backup plan, not asked.
    term.answer(
        "cdk-nag compliance packs checked on every synth", SPACE + DOWN + DOWN + SPACE + ENTER
    )
    # A yes/no choice: "no" can be greyed out once a service has said yes (it cannot be undone).
    term.answer("Lock the backup vaults in compliance mode", UP + ENTER)  # yes
    term.answer("Check every environment for drift", "n")
    term.answer("Cap every role the pipeline's stacks create with a permissions boundary", "n")
    assert term.finish() == 0, term.transcript[-2000:]
    assert "Traceback" not in term.transcript
    assert "AWS Backup vault" not in term.transcript
    # Nor the Redis token's rotation: a pack turns it on.
    assert "Rotate the Redis AUTH token" not in term.transcript
    answers = answers_of(tmp_path / "orders-api")
    assert answers["compliance_packs"] == ["nist-800-53-r5", "pci-dss"]
    assert "backup_plan" not in answers and answers["drift_detection"] is False
    assert answers["permissions_boundary"] is False
    assert answers["backup_vault_lock"] is True
    assert answers["sizing"] == "large"
    assert answers["environments"] == ["dev", "staging", "prod"]
    assert (answers["dev_account_id"], answers["staging_account_id"]) == (
        "210987654321",
        "210987654322",
    )
    assert (answers["hosted_zone_id"], answers["hosted_zone_name"]) == (
        "Z0123456789ABCDEFGHIJ",
        "example.com",
    )
    assert answers["import_github_oidc_provider"] is True
    assert answers["enable_pr_diff"] is False
    assert (answers["alarm_email"], answers["enable_ecs_exec"]) == ("oncall@example.com", True)
    assert (answers["cpu_architecture"], answers["spot_in_non_production"]) == ("x86_64", True)
    assert answers["workloads"] == ["api", "worker", "scheduled_job"]
    assert (answers["job_name"], answers["job_schedule"]) == ("nightly_cleanup", "rate(6 hours)")
    jobs = tmp_path / "orders-api" / "service" / "app" / "jobs"
    assert (jobs / "nightly_cleanup.py").is_file()
    environments = (tmp_path / "orders-api" / "orders_api" / "environments.py").read_text()
    assert 'cpu_architecture="x86_64"' in environments
    assert environments.count("fargate_spot=True") == 2  # dev and staging, never prod
    assert environments.count("backup_plan=True") == 3
    assert "cache_token_rotation=True" in environments
    assert not (tmp_path / "orders-api" / ".github" / "workflows" / "drift.yml").exists()


@pytest.mark.cost(7)
def test_legacy_subject_skips_the_ids_and_a_shared_account(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    term = terminal()
    _common_start(term)
    term.answer("name-only", "y")
    # No id is asked: the next prompt is the environments. Without prod, Enter is refused
    # with the rule under the choices; prod is selected again, and dev joins it.
    term.answer("Environments, deployed in the order", DOWN + DOWN + SPACE + ENTER)
    line = term.wait_for_line("prod is required (got")
    assert (
        line.strip() == "Validation error for question 'environments': prod is required (got none)"
    )
    term.child.send(SPACE + UP + UP + SPACE + ENTER)
    term.answer("May dev or staging use production's AWS account?", "y")
    term.answer("account id of dev", "123456789012" + ENTER)
    # A worker alone: the API is unselected; without any workload Enter is refused first.
    term.answer("What the service runs", SPACE + ENTER)
    line = term.wait_for_line("Validation error for question 'workloads'")
    assert "pick at least one" in line
    term.child.send(DOWN + SPACE + ENTER)
    # No API: no domain and no liveness path are asked.
    term.answer("one GitHub OIDC provider per account", "n")
    _default_options(term, non_production=True, api=False, governance=False)
    # Without the API there is no load balancer to serve HTTPS: a pack needs no domain.
    term.answer("cdk-nag compliance packs checked on every synth", DOWN + SPACE + ENTER)
    term.answer("Lock the backup vaults in compliance mode", ENTER)  # no
    term.answer("Check every environment for drift", ENTER)  # yes
    term.answer(
        "Cap every role the pipeline's stacks create with a permissions boundary", ENTER
    )  # yes
    assert term.finish() == 0, term.transcript[-2000:]
    assert "numeric id" not in term.transcript
    assert "public domain" not in term.transcript and "liveness path" not in term.transcript
    project = tmp_path / "orders-api"
    answers = answers_of(project)
    assert answers["github_legacy_subject"] is True
    assert "github_owner_id" not in answers
    assert (answers["cpu_architecture"], answers["spot_in_non_production"]) == ("arm64", True)
    assert answers["workloads"] == ["worker"]
    assert "domain_name" not in answers and "health_check_path" not in answers
    assert answers["compliance_packs"] == ["hipaa"]
    environments = (project / "orders_api" / "environments.py").read_text()
    assert "owner_id=None" in environments
    # One account, two bootstrap stacks: dev cannot assume prod's bootstrap roles.
    qualifier = answers["cdk_qualifier"]
    assert f'cdk_qualifier="{qualifier}d"' in environments
    assert f'cdk_qualifier="{qualifier}p"' in environments
