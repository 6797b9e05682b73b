"""Services that live: rendered from a release, edited by their team, updated to the next one
through the real CLI, exactly as the READMEs and the CHANGELOG say.

Releases are built in a throwaway git repository of the template: the previous release (the
last commit before 1.0.0, which needed --trust and copier-template-extensions), this tree as
1.0.0 (the first release copier updates alone), and a 1.0.1 made here that changes a line a
team also edits.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_recopy

from .support.commands import (
    COPIER,
    LEGACY_UPDATE,
    commit,
    data_arguments,
    render,
    run,
)
from .support.deployed import LATEST_SMALL, PREVIOUS_MEDIUM, deployed_templates
from .support.environments import uv_sync
from .support.projects import CONFLICT, GENERATED, answers_of
from .support.releases import NEXT_RELEASE
from .support.synth import cdk_out_templates
from .support.template import TEMPLATE
from .support.terminal import ENTER, Terminal
from .test_replacement import conflicted_files, replacements


def _files(project: Path) -> dict[str, str]:
    return {
        str(path.relative_to(project)): path.read_text(errors="ignore")
        for path in project.rglob("*")
        if path.is_file() and not GENERATED.intersection(path.relative_to(project).parts)
    }


def _example_from_1_0_0(
    releases: Path, project: Path, answers: dict[str, str] | None = None
) -> None:
    """The README's example service rendered from release 1.0.0, `answers` on top."""
    example = str(TEMPLATE / "example-answers.yml")
    render(
        COPIER,
        releases,
        project,
        "--vcs-ref",
        "1.0.0",
        "--data-file",
        example,
        *data_arguments(answers or {}),
    )


def _recopy_from_1_0_0(project: Path, data: dict[str, Any]) -> None:
    """`copier recopy` of release 1.0.0 with `data`, in this process (its questions, no render
    of an older release first)."""
    run_recopy(
        str(project),
        data=data,
        vcs_ref="1.0.0",
        defaults=True,
        skip_answered=True,
        overwrite=True,
        quiet=True,
    )


# The choices an update may not take from this medium service with its vault locked: each
# question's prompt, and its refused choice as a terminal shows it, greyed out with its rule.
KEPT_CHOICES = {
    "sizing": (
        "Size of production",
        "- small (smaller than medium: RDS storage cannot shrink)",
    ),
    "address_plan": (
        "How production's subnets are numbered",
        "- three-zones-before-1.0 (numbers deployed subnets: not changed by update)",
    ),
    "backup_plan": (
        "Copy production's database into an AWS Backup vault",
        "- no (the vault is kept, could not be created again)",
    ),
    "backup_vault_lock": (
        "Lock the backup vaults in compliance mode",
        "- no (cannot be undone: the vaults stay locked)",
    ),
}


def _check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/check"], cwd=project, capture_output=True, text=True, check=False
    )


@pytest.mark.cost(55)
def test_previous_release_updates_once_with_trust_keeping_edits_and_reporting_conflicts(
    releases: Path, tmp_path: Path, warm_rendered_mypy_cache: Callable[[], None]
) -> None:
    # What the previous release rendered for a medium service (its subnets numbered as before
    # 1.0.0: address_plan) and what 1.0.0 renders for the same answers.
    old = tmp_path / "old-render"
    new = tmp_path / "new-render"
    answers = PREVIOUS_MEDIUM.answers
    PREVIOUS_MEDIUM.render(releases, old)
    render(
        COPIER,
        releases,
        new,
        "--vcs-ref",
        "1.0.0",
        *data_arguments({**answers, "github_legacy_subject": True}),
    )
    old_files, new_files = _files(old), _files(new)
    # The team's service, rendered from the previous release with the same answers: a copy
    # of that render and its first commit (rendering it again would give the same files).
    project = tmp_path / "orders-api"
    shutil.copytree(old, project, symlinks=True)

    # 1. An edit in a file the release leaves as it was.
    untouched = next(
        name
        for name in sorted(old_files)
        if name.startswith("orders_api/") and old_files[name] == new_files.get(name)
    )
    (project / untouched).write_text(old_files[untouched] + "\n\n# The team's own note.\n")
    # 2. An edit of a line the release changes too.
    readme_line = next(
        line
        for line in old_files["README.md"].splitlines()
        if len(line) > 40 and line not in new_files["README.md"]
    )
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace(readme_line, readme_line + " (the team's)", 1))
    # 3. An edit of a file the release moves (its migration moves the team's copy first).
    moved_from, moved_to = "service/app/checks.py", "service/app/health.py"
    (project / moved_from).write_text(old_files[moved_from] + "\n# The team's own check.\n")
    commit(project, "team work")

    # The update CHANGELOG 1.0.0 gives services of the previous release, re-answering sizing:
    # this team grows production to large on the way.
    run(
        [
            *LEGACY_UPDATE,
            "--data",
            "sizing=large",
        ],
        project,
    )

    answers = answers_of(project)
    assert answers["_commit"] == "1.0.0"
    # GitHub's subject format stays the one the service's roles trust: no ids were asked.
    assert answers["github_legacy_subject"] is True
    assert "owner_id=None" in (project / "orders_api" / "environments.py").read_text()
    # The changed answer re-rendered; the subnets keep the ranges the previous release gave.
    environments = (project / "orders_api" / "environments.py").read_text()
    assert 'SIZING_PRESETS["large"]' in environments
    assert 'address_plan="three-zones-before-1.0"' in environments
    # 1. kept; 2. a reported conflict; 3. the team's edit is at the new path.
    assert (project / untouched).read_text().endswith("# The team's own note.\n")
    readme_text = readme.read_text()
    assert CONFLICT.search(readme_text), readme_text[:2000]
    assert "(the team's)" in readme_text
    assert not (project / moved_from).exists()
    assert "# The team's own check." in (project / moved_to).read_text()

    # The conflict is loud: the project's own checks refuse it and name the file.
    refused = _check(project)
    assert refused.returncode != 0
    assert "README.md:" in refused.stdout

    # Resolved (the release's side kept, the team's edits re-applied), it passes every check.
    for path in [project / "README.md", project / moved_to]:
        path.write_text(
            CONFLICT.sub(
                lambda match: match.group(0).split("=======\n", 1)[1].rsplit(">>>>>>>", 1)[0],
                path.read_text(),
            )
        )
    for rejected in project.rglob("*.rej"):
        rejected.unlink()
    run(["git", "add", "--all"], project)
    uv_sync(project)
    run(["npm", "ci", "--no-fund", "--no-audit", "--silent"], project)
    # Its scripts/check runs mypy on a warm cache (made now if no worker has made it yet).
    warm_rendered_mypy_cache()
    result = _check(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # Deployed over the previous release's stacks (the same answers, before the team's work),
    # what the check synthesized replaces no stateful resource, the new sizing included.
    before = deployed_templates(PREVIOUS_MEDIUM)
    after = cdk_out_templates(project)
    assert set(before) <= set(after)
    assert replacements(before, after, answers["aws_region"]) == []


@pytest.mark.cost(10)
def test_release_to_release_needs_copier_alone(releases: Path, tmp_path: Path) -> None:
    project = tmp_path / "orders-api"
    _example_from_1_0_0(releases, project)
    # The team edits the line 1.0.1 changes, and a line it does not.
    readme = project / "README.md"
    title = next(line for line in readme.read_text().splitlines() if line.startswith("# "))
    readme.write_text(readme.read_text().replace(title, f"{title}: orders", 1))
    sizing = project / "orders_api" / "sizing.py"
    sizing.write_text(sizing.read_text() + "\n# The team's own note.\n")
    commit(project, "team work")

    # Renovate's command; no --trust, no package besides copier.
    run([*COPIER, "update", "--skip-answered", "--defaults"], project)

    assert answers_of(project)["_commit"] == "1.0.1"
    assert sizing.read_text().endswith("# The team's own note.\n")
    assert CONFLICT.search(readme.read_text())
    refused = _check(project)
    assert refused.returncode != 0 and "README.md:1:<<<<<<< before updating" in refused.stdout

    # The same release again changes nothing.
    readme.write_text(CONFLICT.sub("", readme.read_text()))
    commit(project, "resolved")
    run([*COPIER, "update", "--skip-answered", "--defaults"], project)
    assert run(["git", "status", "--porcelain"], project).stdout == ""


def test_an_environment_added_to_productions_account_leaves_production_as_it_is(
    releases: Path, tmp_path: Path
) -> None:
    # Protects: adding staging to production's account during an update keeps production's
    # bootstrap qualifier (its deploy roles point at that bootstrap stack) and keeps its
    # Identity stack creating the account's GitHub OIDC provider (moving it would delete it
    # before staging could create it, refusing every GitHub role of the account in between).
    # A new service rendered that way straight away gets both suffixed (the test below).
    project = tmp_path / "orders-api"
    _example_from_1_0_0(releases, project)
    environments = project / "orders_api" / "environments.py"
    before = environments.read_text()
    assert 'cdk_qualifier="orderbdb9",' in before and "creates_github_oidc_provider" not in before
    commit(project, "rendered")
    shared = {
        "environments": '["staging", "prod"]',
        "allow_shared_accounts": "true",
        "staging_account_id": answers_of(project)["aws_account_id"],
    }
    update = [*COPIER, "update", "--skip-answered", "--defaults", "--vcs-ref", "1.0.0"]
    run([*update, *data_arguments(shared)], project)
    after = environments.read_text()
    prod = after[after.index('name="prod"') :]
    staging = after[after.index('name="staging"') : after.index('name="prod"')]
    assert 'cdk_qualifier="orderbdb9",' in prod and "creates_github_oidc_provider=True" in prod
    assert 'cdk_qualifier="orderbdb9s",' in staging
    # It imports the provider by the account's rule (production says it creates it).
    assert "creates_github_oidc_provider" not in staging
    assert "imports_github_oidc_provider" not in staging
    # Sharing turned off alone: copier drops staging's recorded account (now against the
    # rule) and stops before writing anything, as docs/usage.md says; with staging's own
    # account in the same command, it renders.
    commit(project, "staging in production's account")
    with pytest.raises(ValueError, match='Question "staging_account_id" is required'):
        _recopy_from_1_0_0(project, {"allow_shared_accounts": False})
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    _recopy_from_1_0_0(
        project, {"allow_shared_accounts": False, "staging_account_id": "210987654322"}
    )
    moved = answers_of(project)
    assert moved["allow_shared_accounts"] is False
    assert moved["staging_account_id"] == "210987654322"


@pytest.mark.cost(14)
def test_what_each_environment_was_deployed_with_outlives_updates_recopy_and_fleet(
    releases: Path, tmp_path: Path
) -> None:
    # Protects: the answers file records what each environment's stacks were deployed with
    # (deployed_environments) and every later render keeps it. dev, which created the
    # account's GitHub OIDC provider, leaves production's account: production keeps its
    # suffixed qualifier and imports the provider (the retained one: creating another is
    # refused); a domain added keeps the port-80 listener's id (a second listener on port 80
    # is refused); the vault, locked at small's retention, keeps it as the sizing grows
    # (immutable after the lock date). Then copier recopy and fleet's fresh render agree:
    # recomputed from the answers, production's qualifier lost its suffix (and a second
    # update conflicted on that line). And the answers that name or hold what is deployed
    # are refused.
    project = tmp_path / "orders-api"
    account = yaml.safe_load((TEMPLATE / "example-answers.yml").read_text())["aws_account_id"]
    first = {
        "environments": '["dev", "prod"]',
        "allow_shared_accounts": "true",
        "dev_account_id": account,
        "backup_vault_lock": "true",
    }
    _example_from_1_0_0(releases, project, first)
    environments = project / "orders_api" / "environments.py"
    assert 'cdk_qualifier="orderbdb9p",' in environments.read_text()
    update = [*COPIER, "update", "--skip-answered", "--defaults", "--vcs-ref", "1.0.0"]
    later = {
        "environments": '["prod"]',
        "domain_name": "orders.example.com",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "sizing": "medium",
    }
    run([*update, *data_arguments(later)], project)
    commit(project, "dev leaves; a domain; medium")
    prod = environments.read_text()
    assert not CONFLICT.search(prod), prod
    assert 'cdk_qualifier="orderbdb9p",' in prod
    assert "imports_github_oidc_provider=True" in prod
    assert 'port_80_listener="Http"' in prod
    assert 'SIZING_PRESETS["medium"]' in prod and "backup_vault_lock_days=7," in prod
    # Everything after that renders the same files.
    recopy = [*COPIER, "recopy", "--skip-answered", "--defaults", "--overwrite"]
    run([*recopy, "--vcs-ref", "1.0.0"], project)
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    drift = run(
        [sys.executable, "-m", "fleet", "diff", "--template", str(releases), str(project)],
        project,
    )
    assert "orders-api: no drift from template 1.0.0" in drift.stderr, drift.stdout + drift.stderr
    # What names or holds deployed resources is refused, each by its rule, writing nothing.
    # In copier's own process, through recopy's questions (the update's are the same, but
    # it renders the old release before it asks: five seconds a refusal).
    for question, value, rule in [
        ("sizing", "small", "smaller than medium: RDS storage cannot shrink"),
        ("service_name", "billing-api", "names every stack and resource"),
        ("aws_region", "eu-west-1", "every stack lives there"),
        ("address_plan", "three-zones-before-1.0", "numbers deployed subnets"),
        ("backup_vault_lock", False, "cannot be undone"),
        ("backup_plan", False, "the vault is kept, could not be created again"),
    ]:
        # "Validation error for question 'x': ..." or, for a choice's rule, "Invalid choice
        # for 'x': ...".
        with pytest.raises(ValueError, match=f"'{question}': {rule}"):
            _recopy_from_1_0_0(project, {question: value})
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    # In a terminal, where copier runs no question's validator on a picked choice, the same
    # rules grey the refused choices out: asked again, each keeps what is deployed.
    asked = [argument for question in KEPT_CHOICES for argument in ("--ask", question)]
    term = Terminal([*recopy, "--quiet", "--vcs-ref", "1.0.0", *asked], project)
    for question, (prompt, greyed) in KEPT_CHOICES.items():
        term.child.expect(re.escape(prompt))
        assert term.wait_for_line(greyed).strip() == greyed, question
        term.child.send(ENTER)  # the recorded answer, where the cursor starts
    assert term.finish() == 0, term.transcript[-2000:]
    assert run(["git", "status", "--porcelain"], project).stdout == ""


@pytest.mark.cost(5)
def test_a_service_that_drops_its_compliance_packs_keeps_its_backups_and_rotation(
    releases: Path, tmp_path: Path
) -> None:
    # Protects: with a pack, backup_plan and cache_token_rotation are never asked, so never
    # recorded; dropping the packs then asked them with the defaults of a service rendered
    # before them (off), and production lost its AWS Backup plan and the token rotation.
    project = tmp_path / "orders-api"
    packs = {
        "compliance_packs": "[hipaa]",
        "domain_name": "orders.example.com",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    }
    _example_from_1_0_0(releases, project, packs)
    assert "backup_plan" not in answers_of(project)
    _recopy_from_1_0_0(project, {"compliance_packs": []})
    kept = answers_of(project)
    assert (kept["backup_plan"], kept["cache_token_rotation"]) == (True, True)


@pytest.mark.cost(5)
def test_an_update_of_a_folder_with_glob_characters_in_its_path_keeps_what_it_runs(
    releases: Path, tmp_path: Path
) -> None:
    # Protects: has_answers_file finds the answers file whatever the folder's path; copier
    # reads it as a glob, so a folder named "team[1]" had none, and an update gave a service
    # of an earlier release new services' defaults (arm64 tasks, a permissions boundary).
    project = tmp_path / "team[1]" / "orders-api"
    project.parent.mkdir()
    _example_from_1_0_0(releases, project)
    # As a service rendered before those questions: its answers file does not have them.
    answers_file = project / ".copier-answers.yml"
    recorded = yaml.safe_load(answers_file.read_text())
    for question in ("cpu_architecture", "permissions_boundary"):
        del recorded[question]
    answers_file.write_text(yaml.safe_dump(recorded, sort_keys=False))
    commit(project, "a service from before those questions")
    # Its path given, as fleet and a platform engineer give it (from its own folder, "."
    # has no glob character).
    update = [*COPIER, "update", "--skip-answered", "--defaults", "--vcs-ref", "1.0.1"]
    run([*update, str(project)], tmp_path)
    updated = answers_of(project)
    assert (updated["cpu_architecture"], updated["permissions_boundary"]) == ("x86_64", False)


@pytest.mark.cost(6)
def test_a_service_named_before_a_rule_refused_its_name_still_updates(
    shipped_releases: Path, tmp_path: Path
) -> None:
    # Protects: the rules for new services' names are not applied to a service that has its
    # name. An update renders the template twice more in empty scratch folders (the old
    # release and the new one, to merge the team's edits): no answers file there, so a
    # service named `email` (its package hides the standard library's, refused to new
    # services since the latest release) could take no release after it, and `copier update`
    # stopped with the project half written.
    project = tmp_path / "email"
    named = {**LATEST_SMALL.answers, "service_name": "email"}
    dataclasses.replace(LATEST_SMALL, name="latest-email", answers=named).render(
        shipped_releases, project
    )
    run([*COPIER, "update", "--skip-answered", "--defaults"], project)
    updated = answers_of(project)
    assert (updated["_commit"], updated["service_name"]) == (NEXT_RELEASE, "email")
    assert (project / "email" / "environments.py").is_file()
    assert conflicted_files(project) == []
    # fleet renders it afresh to measure drift, with its answers file in place as an update
    # has it: none.
    commit(project, "template update")
    status = subprocess.run(
        [
            *(sys.executable, "-m", "fleet", "status", "--json"),
            *("--template", str(shipped_releases), str(project)),
        ],
        # Not from its own folder: there, its package `email` hides the standard library's.
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)[0]["drift"] == []
