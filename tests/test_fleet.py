"""`fleet`: the platform team's view and batch update of the rendered services.

Two throwaway releases of this template (1.0.0, then 1.1.0 changing two managed files) live in
a temporary git repository. Three services are rendered from 1.0.0 and committed:
orders-api untouched, payments-api with changes the team owns (its own file, its server), and
billing-api with an edit to a README line that 1.1.0 changes too, so its update conflicts.
The real CLI runs on them (`python -m fleet`): no mock of copier or git.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from copier import run_copy
from packaging.version import Version

from fleet.repository import load
from fleet.template import (
    ExpectedTemplate,
    Release,
    git_location,
    location_key,
    tag_objects,
    version_of,
)
from fleet.update import Outcome, update

from .support.commands import commit, run
from .support.projects import answers_of
from .support.template import BASE_ANSWERS, TEMPLATE

# The module runs whole on one worker (see WHOLE_MODULES in conftest.py).
pytestmark = pytest.mark.cost(35)

SERVICES = ("orders-api", "payments-api", "billing-api")
# The README line that release 1.1.0 changes and billing-api's team changes as well.
README_LINE = "The AWS infrastructure and delivery pipeline of"
RELEASE_NOTE = "Released with template 1.1.0."


def git_output(repository: Path, *arguments: str) -> str:
    return run(["git", *arguments], repository).stdout.strip()


def replace_line(path: Path, starting: str, new_line: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(starting))
    lines[index] = new_line + "\n"
    path.write_text("".join(lines))


def copy_tracked_files(source: Path, destination: Path) -> None:
    """The template's working tree as git knows it: no virtualenv, caches or rendered examples."""
    tracked = run(["git", "ls-files", "-z"], source).stdout.split("\0")
    for relative in filter(None, tracked):
        origin = source / relative
        if not os.path.lexists(origin):  # deleted in the working tree
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target, follow_symlinks=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This template released as 1.0.0, then as 1.1.0 with two managed files changed."""
    template = tmp_path_factory.mktemp("releases") / "cdk-service-template"
    copy_tracked_files(TEMPLATE, template)
    run(["git", "init", "--quiet", "--initial-branch=main"], template)
    commit(template, "release 1.0.0", tag="1.0.0")
    readme = template / "template" / "README.md.jinja"
    replace_line(
        readme,
        README_LINE,
        "The AWS infrastructure and delivery pipeline (template 1.1.0) of "
        "`{{ service_name }}`: an AWS CDK (Python) app that",
    )
    readme.write_text(readme.read_text() + f"\n{RELEASE_NOTE}\n")
    replace_line(template / "template" / ".gitignore", "# Python", "# Python tooling")
    commit(template, "release 1.1.0", tag="1.1.0")
    return template


def render(template: Path, destination: Path, service_name: str) -> Path:
    run_copy(
        str(template),
        destination,
        data={
            **BASE_ANSWERS,
            "service_name": service_name,
            "github_repository": f"acme/{service_name}",
        },
        vcs_ref="1.0.0",
        defaults=True,
        quiet=True,
    )
    run(["git", "init", "--quiet", "--initial-branch=main"], destination)
    commit(destination, f"render {service_name} from 1.0.0")
    return destination


@pytest.fixture(scope="module")
def services(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three services on 1.0.0, each with its team's work committed."""
    folder = tmp_path_factory.mktemp("services")
    rendered = {name: render(template, folder / name, name) for name in SERVICES}
    payments = rendered["payments-api"]
    (payments / "NOTES.md").write_text("The payments team's own notes.\n")
    server = payments / "service" / "app" / "server.py"  # the team grows its service here
    server.write_text(server.read_text() + "\n# The payments team's own handler.\n")
    commit(payments, "team work: notes of its own, a handler in the managed server")
    replace_line(
        rendered["billing-api"] / "README.md",
        README_LINE,
        "The AWS infrastructure (billing team: see docs/oncall.md) and delivery pipeline of",
    )
    commit(rendered["billing-api"], "team edit of the managed README")
    return rendered


@pytest.fixture(scope="module")
def other_service(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service rendered from another template: a second clone elsewhere."""
    other_template = tmp_path_factory.mktemp("other") / "someone-elses-template"
    shutil.copytree(template, other_template, symlinks=True)
    return render(
        other_template, tmp_path_factory.mktemp("other-services") / "inventory-api", "inventory-api"
    )


def working_copy(service: Path, destination: Path) -> Path:
    """A copy of a rendered repository, history and all, for a test that changes it."""
    shutil.copytree(service, destination, symlinks=True)
    return destination


def with_answer(service: Path, destination: Path, key: str, value: str) -> Path:
    """A working copy of a service whose answers file says `key: value`, committed."""
    repository = working_copy(service, destination)
    answers_file = repository / ".copier-answers.yml"
    answers = re.sub(rf"(?m)^{key}: .*$", f"{key}: {value}", answers_file.read_text())
    answers_file.write_text(answers)
    commit(repository, f"answers: {key} {value}")
    return repository


def unpushed_release(template: Path, folder: Path, tag: str) -> Path:
    """The platform team's clone of the template, with a release it has not pushed."""
    clone = folder / "platform-clone"
    run(["git", "clone", "--quiet", str(template), str(clone)], folder)
    commit(clone, f"release {tag}", tag=tag)
    return clone


def fleet(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Snapshot:
    """What must not change when fleet refuses or fails: branch, commit, tree, branches."""

    branch: str
    head: str
    status: str
    branches: str

    @classmethod
    def of(cls, repository: Path) -> Snapshot:
        return cls(
            branch=git_output(repository, "branch", "--show-current"),
            head=git_output(repository, "rev-parse", "HEAD"),
            status=git_output(repository, "status", "--porcelain", "--untracked-files=all"),
            branches=git_output(repository, "branch", "--list"),
        )


# What `fleet update` answered, the copies it updated, and their state before it.
Updated = tuple[subprocess.CompletedProcess[str], dict[str, Path], dict[str, Snapshot]]


# ---------------------------------------------------------------- status and diff


@pytest.fixture(scope="module")
def status_json(template: Path, services: dict[str, Path]) -> dict[str, dict[str, Any]]:
    result = fleet("status", "--json", "--template", str(template), *map(str, services.values()))
    assert result.returncode == 1, result.stderr  # 1: some repository is behind
    return {row["service"]: row for row in json.loads(result.stdout)}


def test_status_shows_each_service_behind_with_its_drift(
    template: Path, services: dict[str, Path]
) -> None:
    result = fleet("status", "--template", str(template), *map(str, services.values()))
    assert result.returncode == 1, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.splitlines()[1:]}
    assert set(rows) == set(SERVICES)
    for name, line in rows.items():
        assert re.search(rf"{name}\s+1\.0\.0\s+1\.1\.0\s+behind\s+clean\s", line), line
    assert rows["billing-api"].endswith("README.md")
    # The payments team's own file is not drift; its edit of the managed server is.
    assert rows["payments-api"].endswith("service/app/server.py")
    assert rows["orders-api"].endswith("none")


def test_status_json_describes_each_service(
    status_json: dict[str, dict[str, Any]], template: Path, services: dict[str, Path]
) -> None:
    assert set(status_json) == set(SERVICES)
    for name, row in status_json.items():
        assert row["path"] == str(services[name])
        assert row["template"] == str(template)
        assert (row["version"], row["newest"], row["behind"], row["clean"]) == (
            "1.0.0",
            "1.1.0",
            True,
            True,
        )
        expected = {"billing-api": ["README.md"], "payments-api": ["service/app/server.py"]}
        assert row["drift"] == expected.get(name, [])


def test_diff_shows_the_teams_edit_as_a_unified_diff(
    template: Path, services: dict[str, Path]
) -> None:
    result = fleet("diff", "--template", str(template), str(services["billing-api"]))
    assert result.returncode == 1, result.stderr  # 1: drift shown
    assert "--- a/README.md\t(template 1.0.0, fresh render)" in result.stdout
    assert "+++ b/README.md\t(billing-api)" in result.stdout
    assert re.search(
        r"^-The AWS infrastructure and delivery pipeline of `billing-api`",
        result.stdout,
        re.MULTILINE,
    )
    assert re.search(
        r"^\+The AWS infrastructure \(billing team: see docs/oncall.md\)",
        result.stdout,
        re.MULTILINE,
    )
    assert re.search(r"^@@ -1,\d+ \+1,\d+ @@", result.stdout, re.MULTILINE)


def test_diff_of_an_untouched_service_is_empty(template: Path, services: dict[str, Path]) -> None:
    result = fleet("diff", "--template", str(template), str(services["orders-api"]))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "orders-api: no drift from template 1.0.0" in result.stderr


# ---------------------------------------------------------------- update


@pytest.fixture(scope="module")
def updated(
    template: Path, services: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Updated:
    """`fleet update` of copies of the three services; their state before it."""
    folder = tmp_path_factory.mktemp("update")
    copies = {name: working_copy(path, folder / name) for name, path in services.items()}
    before = {name: Snapshot.of(path) for name, path in copies.items()}
    result = fleet("update", "--json", "--template", str(template), *map(str, copies.values()))
    return result, copies, before


def test_update_reports_each_outcome_and_fails_when_one_conflicts(updated: Updated) -> None:
    result, _, _ = updated
    assert result.returncode == 1, result.stderr  # billing-api did not update cleanly
    outcomes = {row["service"]: row for row in json.loads(result.stdout)}
    for name in ("orders-api", "payments-api"):
        assert outcomes[name]["outcome"] == "updated", outcomes[name]
        assert outcomes[name]["branch"] == "template-update/1.1.0"
        assert (outcomes[name]["from"], outcomes[name]["to"]) == ("1.0.0", "1.1.0")
    billing = outcomes["billing-api"]
    assert billing["outcome"] == "conflict", billing
    assert billing["conflicts"] == ["README.md"]
    assert billing["branch"] == "template-update/1.1.0"


@pytest.mark.parametrize("name", ["orders-api", "payments-api"])
def test_a_clean_update_is_a_commit_on_its_branch_and_main_stays_checked_out(
    updated: Updated, name: str
) -> None:
    _, copies, before = updated
    repository = copies[name]
    branch = "template-update/1.1.0"

    def on_branch(path: str) -> str:
        return git_output(repository, "show", f"{branch}:{path}")

    assert yaml.safe_load(on_branch(".copier-answers.yml"))["_commit"] == "1.1.0"
    assert yaml.safe_load(on_branch(".copier-answers.yml"))["service_name"] == name
    assert on_branch("README.md").endswith(RELEASE_NOTE)
    assert "# Python tooling" in on_branch(".gitignore")
    assert git_output(repository, "log", "-1", "--format=%s", branch) == (
        "Update template to 1.1.0"
    )
    # The update is a commit on top of the team's HEAD; the team's branch is checked out
    # again as it was, so status still shows it behind until the update is merged.
    assert git_output(repository, "rev-parse", f"{branch}~1") == before[name].head
    after = Snapshot.of(repository)
    assert (after.branch, after.head, after.status) == ("main", before[name].head, "")
    assert answers_of(repository)["_commit"] == "1.0.0"


def test_status_shows_the_update_waiting_on_its_branch(updated: Updated, template: Path) -> None:
    _, copies, _ = updated
    result = fleet("status", "--template", str(template), str(copies["orders-api"]))
    assert result.returncode == 1, result.stderr  # behind until the branch is merged
    assert "behind (template-update/1.1.0 to merge)" in result.stdout


def test_a_clean_update_keeps_what_the_team_owns(updated: Updated) -> None:
    _, copies, _ = updated
    payments = copies["payments-api"]
    branch = "template-update/1.1.0"
    notes = git_output(payments, "show", f"{branch}:NOTES.md")
    assert notes == "The payments team's own notes."
    server = git_output(payments, "show", f"{branch}:service/app/server.py")
    assert server.endswith("# The payments team's own handler.")


def test_a_conflicting_update_leaves_main_untouched_and_the_attempt_on_its_branch(
    updated: Updated,
) -> None:
    _, copies, before = updated
    billing = copies["billing-api"]
    after = Snapshot.of(billing)
    assert (after.branch, after.head, after.status) == ("main", before["billing-api"].head, "")
    assert answers_of(billing)["_commit"] == "1.0.0"
    attempt = git_output(billing, "show", "template-update/1.1.0:README.md")
    assert re.search(r"^<<<<<<< ", attempt, re.MULTILINE) and re.search(
        r"^>>>>>>> ", attempt, re.MULTILINE
    )


def test_a_managed_file_the_team_renamed_is_named_for_the_release_to_be_applied_by_hand(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    # Protects: copier drops the release's change to a file the team deleted or renamed
    # without a word (its patch has nowhere to go); fleet called that update clean.
    repository = working_copy(services["orders-api"], tmp_path / "orders-api")
    run(["git", "mv", ".gitignore", ".gitignore-team"], repository)
    commit(repository, "the team's own name for it")
    before = Snapshot.of(repository)

    result = fleet("update", "--json", "--template", str(template), str(repository))

    assert result.returncode == 1, result.stderr
    [row] = json.loads(result.stdout)
    assert (row["outcome"], row["conflicts"], row["missing"]) == ("conflict", [], [".gitignore"])
    assert Snapshot.of(repository).head == before.head
    assert "# Python tooling" not in git_output(
        repository, "show", "template-update/1.1.0:.gitignore-team"
    )


def test_a_failed_update_restores_the_original_branch_exactly(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    """A service whose answers name a release the template does not have (0.9.0): copier
    cannot render that old version, so the update fails after fleet made its branch."""
    repository = with_answer(services["orders-api"], tmp_path / "orders-api", "_commit", "0.9.0")
    before = Snapshot.of(repository)

    result = fleet("update", "--template", str(template), str(repository))

    assert result.returncode == 1, result.stderr
    assert re.search(
        r"orders-api \(.*\): failed updating to 1\.1\.0, nothing changed: .*0\.9\.0", result.stdout
    )
    assert Snapshot.of(repository) == before


# ---------------------------------------------------------------- bad input


def test_a_folder_that_is_not_a_rendered_repository_is_refused(
    template: Path, tmp_path: Path
) -> None:
    result = fleet("status", "--template", str(template), str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path}: not a rendered repository (no .copier-answers.yml" in result.stderr
    assert result.stdout == ""


def test_a_dirty_tree_is_refused_for_update_and_nothing_changes(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    clean = working_copy(services["orders-api"], tmp_path / "orders-api")
    dirty = working_copy(services["payments-api"], tmp_path / "payments-api")
    (dirty / "README.md").write_text("work in progress\n")
    before = {path: Snapshot.of(path) for path in (clean, dirty)}

    result = fleet("update", "--template", str(template), str(clean), str(dirty))

    assert result.returncode == 2
    assert f"{dirty}: uncommitted changes" in result.stderr
    assert "refused, nothing done" in result.stderr
    # The clean one given alongside is not updated either: one refusal stops the run.
    assert {path: Snapshot.of(path) for path in (clean, dirty)} == before
    assert (dirty / "README.md").read_text() == "work in progress\n"


def test_a_service_of_another_template_is_refused(
    template: Path, services: dict[str, Path], other_service: Path, tmp_path: Path
) -> None:
    clean = working_copy(services["orders-api"], tmp_path / "orders-api")
    before = Snapshot.of(clean)
    result = fleet("update", "--template", str(template), str(clean), str(other_service))
    assert result.returncode == 2
    assert f"{other_service}: rendered from another template" in result.stderr
    assert f"not {template}" in result.stderr
    assert Snapshot.of(clean) == before


def test_without_template_the_services_must_come_from_this_checkout(
    services: dict[str, Path],
) -> None:
    result = fleet("status", str(services["orders-api"]))
    assert result.returncode == 2
    assert "rendered from another template" in result.stderr
    assert f"not {TEMPLATE}" in result.stderr


def test_an_unknown_release_is_refused(template: Path, services: dict[str, Path]) -> None:
    before = Snapshot.of(services["orders-api"])
    result = fleet(
        "update", "--to", "9.9.9", "--template", str(template), str(services["orders-api"])
    )
    assert result.returncode == 2
    assert "has no release 9.9.9" in result.stderr
    assert Snapshot.of(services["orders-api"]) == before


def test_a_pre_release_or_a_file_is_refused_with_what_it_is(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    clone = unpushed_release(template, tmp_path, "1.2.0rc1")
    repository = services["orders-api"]
    before = Snapshot.of(repository)
    result = fleet("update", "--to", "1.2.0rc1", "--template", str(clone), str(repository))
    assert result.returncode == 2, result.stderr
    assert "1.2.0rc1 is a pre-release or no PEP 440 version" in result.stderr
    answers = repository / ".copier-answers.yml"
    result = fleet("status", "--template", str(template), str(answers))
    assert result.returncode == 2, result.stderr
    assert f"{answers}: a file, not a folder" in result.stderr
    assert Snapshot.of(repository) == before


def test_a_service_on_a_later_release_is_not_downgraded(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    repository = with_answer(services["orders-api"], tmp_path / "orders-api", "_commit", "1.1.0")
    before = Snapshot.of(repository)
    result = fleet("update", "--to", "1.0.0", "--template", str(template), str(repository))
    assert result.returncode == 0, result.stderr
    assert "newer, already on 1.1.0; not downgraded to 1.0.0" in result.stdout
    assert Snapshot.of(repository) == before
    # A release the template does not have says nothing about what the service runs.
    unknown = with_answer(services["orders-api"], tmp_path / "unknown", "_commit", "1.5.0")
    before = Snapshot.of(unknown)
    result = fleet("update", "--template", str(template), str(unknown))
    assert result.returncode == 2, result.stderr
    assert "names release 1.5.0, which template" in result.stderr
    assert Snapshot.of(unknown) == before


@pytest.mark.parametrize(
    "location, said",
    [
        ("no-such-template", "no such folder, and not a URL"),
        ("", "not a git repository (its releases are its tags)"),  # an empty folder
        ("https://git.invalid/acme/cdk-service-template.git", "cannot read the releases"),
    ],
)
def test_a_template_that_cannot_be_read_is_refused_by_name(
    services: dict[str, Path], tmp_path: Path, location: str, said: str
) -> None:
    # Also with --to, whose releases are read on their own (a traceback before).
    source = location if "://" in location else str(tmp_path / location)
    repository = with_answer(services["orders-api"], tmp_path / "orders-api", "_src_path", source)
    result = fleet("update", "--to", "1.1.0", "--template", source, str(repository))
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert source in result.stderr


def test_a_release_missing_from_the_services_own_source_is_refused_up_front(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    # The platform team's clone has a release it has not pushed: copier would update from
    # the service's _src_path, which does not have it.
    clone = unpushed_release(template, tmp_path, "1.2.0")
    repository = working_copy(services["orders-api"], tmp_path / "orders-api")
    before = Snapshot.of(repository)
    result = fleet("update", "--template", str(clone), str(repository))
    assert result.returncode == 2, result.stderr
    assert f"its _src_path {template}, which has no release 1.2.0" in result.stderr
    assert Snapshot.of(repository) == before


def test_two_services_in_one_git_repository_are_refused_for_update(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    shared = tmp_path / "services"
    for name in ("orders-api", "payments-api"):
        shutil.copytree(services[name], shared / name, ignore=shutil.ignore_patterns(".git"))
    run(["git", "init", "--quiet", "--initial-branch=main"], shared)
    commit(shared, "two services, one repository")
    before = Snapshot.of(shared)
    result = fleet(
        "update",
        "--template",
        str(template),
        str(shared / "orders-api"),
        str(shared / "payments-api"),
    )
    assert result.returncode == 2, result.stderr
    assert "share the git repository" in result.stderr
    assert Snapshot.of(shared) == before


def test_no_dir_without_a_terminal_is_an_error_not_a_prompt(template: Path) -> None:
    result = fleet("status", "--template", str(template))
    assert result.returncode == 2
    assert "no DIR given, and no terminal to choose repositories in" in result.stderr


# ---------------------------------------------------------------- the picker


def test_the_picker_offers_the_services_below_and_greys_out_the_refused_ones(
    template: Path, services: dict[str, Path], other_service: Path, tmp_path: Path
) -> None:
    working_copy(services["orders-api"], tmp_path / "orders")
    working_copy(other_service, tmp_path / "zz-inventory")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fleet", "status", "--template", str(template)],
        cwd=tmp_path,
        env={**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"},
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 160),
    )
    try:
        child.expect(re.escape("Repositories to status:"))
        child.expect(re.escape("rendered from another template"))
        child.send(" ")  # choose the first (the only one that can be chosen)
        child.send("\r")
        child.expect(r"orders\s+orders-api\s+1\.0\.0\s+1\.1\.0\s+behind\s+clean\s+none")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 1  # behind


# ---------------------------------------------------------------- template locations


def test_one_template_has_one_key_however_its_location_is_spelled() -> None:
    spellings = [
        "gh:acme/cdk-service-template",
        "https://github.com/acme/cdk-service-template.git",
        "https://github.com/Acme/cdk-service-template/",
        "git@github.com:acme/cdk-service-template.git",
        "ssh://git@github.com:22/acme/cdk-service-template",
        "git+https://github.com/acme/cdk-service-template",
    ]
    assert {location_key(spelling) for spelling in spellings} == {
        "github.com/acme/cdk-service-template"
    }
    assert location_key("https://gitlab.com/acme/cdk-service-template") != location_key(
        "gh:acme/cdk-service-template"
    )


def test_the_version_of_a_commit_is_its_release_or_the_one_before() -> None:
    assert str(version_of("1.1.0")) == "1.1.0"
    assert str(version_of("v1.1.0-3-gabc1234")) == "1.1.0"
    assert version_of("abc1234") is None
    # A bare hash of digits and a-f reads as a PEP 440 version one time in ten: still none.
    assert version_of("1234567") is None
    assert version_of("94615b0") is None


def test_copiers_shortcuts_reach_git_as_copier_expands_them(template: Path) -> None:
    # README renders from gh:<org>/<template>; git knows no `gh:` or `git+` (copier expands
    # them itself), so fleet expands them before it asks git for the releases.
    assert git_location("gh:acme/cdk-service-template") == (
        "https://github.com/acme/cdk-service-template.git"
    )
    assert git_location("gl:/acme/t.git") == "https://gitlab.com/acme/t.git"
    assert git_location("git+https://github.com/acme/t") == "https://github.com/acme/t"
    assert git_location(str(template)) == str(template)
    assert {"1.0.0", "1.1.0"} <= set(tag_objects("git+" + template.as_uri()))


def test_a_change_made_while_a_batch_runs_is_left_alone(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    # A batch takes minutes; a team's work that appears in a repository after fleet checked it
    # must not go with a failed attempt's `git reset --hard` and `git clean`.
    repository = working_copy(services["orders-api"], tmp_path / "orders-api")
    loaded = load(repository, ExpectedTemplate.at(str(template)))
    (repository / "NOTES.md").write_text("written while fleet ran\n")
    readme = repository / "README.md"
    readme.write_text(readme.read_text() + "an edit in progress\n")
    before = Snapshot.of(repository)

    result = update(loaded, Release(version=Version("1.1.0"), tag="1.1.0"), str(template))

    assert result.outcome == Outcome.FAILED
    assert "changed since fleet started (" in result.reason and "NOTES.md" in result.reason
    assert Snapshot.of(repository) == before
    assert (repository / "NOTES.md").read_text() == "written while fleet ran\n"
    assert readme.read_text().endswith("an edit in progress\n")


def test_a_render_inside_another_repository_that_has_not_committed_it_is_refused(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    # README's first render lands in the template's checkout (example/, which it ignores)
    # before its own `git init`: fleet must not take the template's repository for the
    # service's (an update would branch, reset and clean there).
    outer = tmp_path / "template-checkout"
    outer.mkdir()
    run(["git", "init", "--quiet", "--initial-branch=main"], outer)
    (outer / ".gitignore").write_text("/example/\n")
    commit(outer, "a repository that ignores its renders")
    render = outer / "example" / "orders-api"
    shutil.copytree(services["orders-api"], render, ignore=shutil.ignore_patterns(".git"))
    before = Snapshot.of(outer)
    for command in ("status", "update"):
        result = fleet(command, "--template", str(template), str(render))
        assert result.returncode == 2, result.stderr
        assert f"{render}: its .copier-answers.yml is not committed in the git repository" in (
            result.stderr
        )
    assert Snapshot.of(outer) == before
    assert answers_of(render)["_commit"] == "1.0.0"


def test_ctrl_c_in_a_batch_reports_what_each_service_got(
    template: Path, services: dict[str, Path], tmp_path: Path
) -> None:
    copies = [
        working_copy(services[name], tmp_path / name) for name in ("orders-api", "payments-api")
    ]
    heads = [Snapshot.of(copy).head for copy in copies]
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fleet", "update", "--template", str(template), *map(str, copies)],
        env={**os.environ, "TERM": "xterm-256color"},
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 200),
    )
    try:
        child.expect(re.escape("[2/2] payments-api: updating to 1.1.0"))
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    output = child.before or ""
    assert child.exitstatus == 130, output
    assert re.search(
        r"orders-api \(.*\): updated to 1\.1\.0, on branch template-update/1\.1\.0", output
    )
    assert re.search(r"payments-api \(.*\): not updated \(interrupted\)", output)
    assert "fleet update: interrupted" in output
    # The one in hand was put back as it was.
    payments = Snapshot.of(copies[1])
    assert (payments.branch, payments.head, payments.status) == ("main", heads[1], "")
