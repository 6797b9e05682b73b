"""The `fleet` command line: status, diff and update of the repositories rendered from the
template. Every input is checked before anything runs: one refused folder stops the whole
run, so a command either works on every repository given or changes nothing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import questionary
import yaml

from fleet.drift import Drift, drift, unified_diff
from fleet.git import branch_exists, top_level
from fleet.progress import Progress
from fleet.repository import (
    ANSWERS_FILE,
    RefusedInput,
    RenderedRepository,
    find_rendered,
    load,
)
from fleet.template import (
    ExpectedTemplate,
    Release,
    TemplateError,
    is_behind,
    location_key,
    newest_release,
    releases,
    tag_objects,
    tag_of,
    this_template,
    version_of,
)
from fleet.update import Outcome, UpdateResult, update, update_branch

# Exit status of every command.
EXIT_OK = 0
EXIT_ATTENTION = 1  # status: some repository is behind; diff: drift; update: not all clean
EXIT_BAD_INPUT = 2  # refused input or a template fleet cannot read; nothing was changed

EPILOG = """\
exit status:
  status  0 every repository is on the newest release, 1 some are behind
  diff    0 no drift, 1 drift shown
  update  0 every repository updated cleanly (or was current), 1 some conflicted or failed
  all     2 bad input (no answers file, another template, a dirty tree for update, an
          unreadable template, a render that failed): a clear message, nothing changed

With no DIR, on a terminal, fleet lists the rendered repositories below the current folder
and lets you choose; without a terminal, give the DIRs.
"""


@dataclass(frozen=True)
class StatusRow:
    repository: RenderedRepository
    source: str
    newest: Release | None
    behind: bool
    clean: bool
    drift: tuple[str, ...] | None  # None when the fresh render failed
    drift_error: str = ""
    # The branch a fleet update left for the newest release, not merged yet.
    update_branch: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.repository.path),
            "service": self.repository.service_name,
            "template": self.source,
            "version": self.repository.commit,
            "newest": self.newest.tag if self.newest else None,
            "behind": self.behind,
            "clean": self.clean,
            "drift": list(self.drift) if self.drift is not None else None,
            "drift_error": self.drift_error or None,
            "update_branch": self.update_branch,
        }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet",
        description="The platform team's view and batch update of the service repositories "
        "rendered from this template.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    descriptions = {
        "status": "one row per repository: version, newest release, behind, clean, drift",
        "diff": "the drift (managed files the team changed) as a unified diff",
        "update": "copier update each repository onto a branch template-update/<version>",
    }
    for name, description in descriptions.items():
        command = commands.add_parser(
            name,
            help=description,
            description=description,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_argument(
            "dirs", nargs="*", metavar="DIR", help="rendered repositories (with their answers)"
        )
        command.add_argument(
            "--template",
            metavar="PATH_OR_URL",
            help="the template the repositories must come from, read for its releases and "
            "renders (default: the checkout fleet runs from; releases from each _src_path)",
        )
        command.add_argument(
            "--json", action="store_true", help="a JSON list, one object per repository"
        )
        if name == "update":
            command.add_argument(
                "--to",
                metavar="VERSION",
                help="the release to update to (default: the newest release)",
            )
    return parser


def expected_template(option: str | None) -> ExpectedTemplate:
    if option:
        return ExpectedTemplate.at(option)
    root = this_template()
    if root is None:
        raise RefusedInput(
            "fleet is not running from the template's checkout, so it cannot tell which "
            "template the repositories must come from: give --template PATH_OR_URL"
        )
    return ExpectedTemplate.at(str(root))


def checked(folder: Path, expected: ExpectedTemplate, *, refuse_dirty: bool) -> RenderedRepository:
    repository = load(folder, expected)
    if refuse_dirty and not repository.is_clean():
        raise RefusedInput(
            f"{folder}: uncommitted changes (see git status); commit or stash them first, "
            "fleet updates only a clean working tree"
        )
    return repository


def load_all(
    folders: Sequence[Path], expected: ExpectedTemplate, *, refuse_dirty: bool
) -> list[RenderedRepository]:
    """Every folder as a repository, or RefusedInput naming each refused one."""
    repositories: dict[Path, RenderedRepository] = {}
    refusals: list[str] = []
    for folder in folders:
        try:
            repository = checked(folder, expected, refuse_dirty=refuse_dirty)
        except RefusedInput as refusal:
            refusals.append(str(refusal))
            continue
        repositories.setdefault(repository.path, repository)
    if refusals:
        raise RefusedInput("\n".join(refusals))
    return list(repositories.values())


def _picker_title(folder: Path, below: Path) -> str:
    relative = folder.relative_to(below).as_posix()
    try:
        answers = yaml.safe_load((folder / ANSWERS_FILE).read_text())
        return f"{relative}  ({answers['service_name']} on {answers['_commit']})"
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return relative


def picked_folders(command: str, expected: ExpectedTemplate) -> list[Path]:
    """Let the person choose among the rendered repositories below the current folder; those
    fleet would refuse are listed, greyed out, with the reason."""
    below = Path.cwd()
    found = list(find_rendered(below))
    if not found:
        raise RefusedInput(f"no rendered repository ({ANSWERS_FILE}) below {below}")
    choices: list[questionary.Choice] = []
    for folder in found:
        try:
            checked(folder, expected, refuse_dirty=command == "update")
            disabled = None
        except RefusedInput as refusal:
            # The reason without the folder (it is the title) or the advice (it is long).
            disabled = str(refusal).split(": ", 1)[-1].split(";")[0]
        choices.append(
            questionary.Choice(_picker_title(folder, below), value=str(folder), disabled=disabled)
        )
    if all(choice.disabled for choice in choices):
        reasons = "\n".join(f"{choice.title}: {choice.disabled}" for choice in choices)
        raise RefusedInput(f"no repository below {below} can be used:\n{reasons}")
    picked = questionary.checkbox(
        f"Repositories to {command}:",
        choices=choices,
        instruction="(space: choose, a: all, enter: go)",
    ).ask()
    if not picked:
        raise RefusedInput("no repository chosen; nothing done")
    return [Path(folder) for folder in picked]


def chosen_folders(arguments: argparse.Namespace, expected: ExpectedTemplate) -> list[Path]:
    if arguments.dirs:
        return [Path(folder) for folder in arguments.dirs]
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise RefusedInput(
            "no DIR given, and no terminal to choose repositories in: give the rendered "
            f"repositories as arguments, e.g. fleet {arguments.command} services/*"
        )
    return picked_folders(arguments.command, expected)


class Releases:
    """Each template's newest release, read once however many repositories name it."""

    def __init__(self) -> None:
        self._newest: dict[str, Release | None] = {}

    def newest(self, source: str) -> Release | None:
        if source not in self._newest:
            self._newest[source] = newest_release(source)
        return self._newest[source]


@dataclass(frozen=True)
class Run:
    """One command's checked input."""

    arguments: argparse.Namespace
    repositories: list[RenderedRepository]
    template_override: str | None  # --template, resolved when it is a local folder

    def source_of(self, repository: RenderedRepository) -> str:
        """Where to read releases and render from: --template when given, else `_src_path`."""
        return self.template_override or repository.src_path


def print_json(objects: list[dict[str, Any]]) -> None:
    print(json.dumps(objects, indent=2))


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def shown_path(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return str(path)


# What copier says when a release needs --trust (a migration), and what a fleet user does.
COPIER_TRUST_HINT = "If you trust this template, consider adding the `--trust` option"
FLEET_TRUST_HINT = (
    "fleet never passes --trust: run `copier update --trust` by hand in this service "
    "(the template's CHANGELOG names the release and its migration)"
)


def one_line(error: BaseException | str) -> str:
    """An error as one line of a table or report (git's and copier's messages span several),
    copier's advice to add --trust replaced by what fleet's user can do."""
    text = str(error).strip() or type(error).__name__
    if COPIER_TRUST_HINT in text:
        text = text[: text.index(COPIER_TRUST_HINT)] + FLEET_TRUST_HINT
    return " ".join(text.split())


def run_status(run: Run) -> int:
    arguments, repositories = run.arguments, run.repositories
    known = Releases()
    sources = {repository.path: run.source_of(repository) for repository in repositories}
    newest = {path: known.newest(source) for path, source in sources.items()}
    rows: list[StatusRow] = []
    with Progress(len(repositories)) as progress:
        for position, repository in enumerate(repositories, start=1):
            progress.show(position, f"{repository.service_name}: rendering {repository.commit}")
            source = sources[repository.path]
            try:
                drifted: tuple[str, ...] | None = tuple(drift(repository, source).paths)
                drift_error = ""
            except Exception as error:  # noqa: BLE001 - shown in its row, the others go on
                drifted, drift_error = None, one_line(error)
            release = newest[repository.path]
            behind = is_behind(repository.commit, release)
            waiting = update_branch(release) if release is not None and behind else None
            rows.append(
                StatusRow(
                    repository=repository,
                    source=source,
                    newest=release,
                    behind=behind,
                    clean=repository.is_clean(),
                    drift=drifted,
                    drift_error=drift_error,
                    update_branch=(
                        waiting
                        if waiting and branch_exists(top_level(repository.path), waiting)
                        else None
                    ),
                )
            )
    if arguments.json:
        print_json([row.as_json() for row in rows])
    else:
        print_table(
            ["REPOSITORY", "SERVICE", "VERSION", "NEWEST", "BEHIND", "TREE", "DRIFT"],
            [
                [
                    shown_path(row.repository.path),
                    row.repository.service_name,
                    row.repository.commit,
                    row.newest.tag if row.newest else "-",
                    (
                        f"behind ({row.update_branch} to merge)"
                        if row.update_branch
                        else "behind"
                        if row.behind
                        else "current"
                    ),
                    "clean" if row.clean else "dirty",
                    (", ".join(row.drift) or "none")
                    if row.drift is not None
                    else f"unknown: {row.drift_error}",
                ]
                for row in rows
            ],
        )
    if any(row.drift is None for row in rows):
        return EXIT_BAD_INPUT
    return EXIT_ATTENTION if any(row.behind for row in rows) else EXIT_OK


def run_diff(run: Run) -> int:
    arguments, repositories = run.arguments, run.repositories
    drifts: list[Drift] = []
    failures: list[str] = []
    with Progress(len(repositories)) as progress:
        for position, repository in enumerate(repositories, start=1):
            progress.show(position, f"{repository.service_name}: rendering {repository.commit}")
            try:
                drifts.append(drift(repository, run.source_of(repository)))
            except Exception as error:  # noqa: BLE001 - reported, the others go on
                failures.append(
                    f"{repository.path}: cannot render {repository.commit}: {one_line(error)}"
                )
    if arguments.json:
        print_json(
            [
                {
                    "path": str(found.repository.path),
                    "service": found.repository.service_name,
                    "version": found.version,
                    "drift": found.paths,
                    "diff": unified_diff(found),
                }
                for found in drifts
            ]
        )
    else:
        for found in drifts:
            if not found.files:
                print(
                    f"{found.repository.service_name}: no drift from template {found.version}",
                    file=sys.stderr,
                )
                continue
            if len(repositories) > 1:
                print(f"# {found.repository.service_name} ({shown_path(found.repository.path)})")
            print(unified_diff(found), end="")
    for failure in failures:
        print(f"fleet diff: {failure}", file=sys.stderr)
    if failures:
        return EXIT_BAD_INPUT
    return EXIT_ATTENTION if any(found.files for found in drifts) else EXIT_OK


def target_release(source: str, wanted: str | None, known: Releases) -> Release:
    if wanted is None:
        newest = known.newest(source)
        if newest is None:
            raise RefusedInput(f"template {source} has no release (no PEP 440 tag)")
        return newest
    try:
        return next(release for release in releases(source) if release.tag == wanted)
    except StopIteration:
        if wanted in tag_objects(source):
            raise RefusedInput(
                f"template {source}: {wanted} is a pre-release or no PEP 440 version; fleet "
                "updates to releases only (`copier update --vcs-ref` for the others)"
            ) from None
        raise RefusedInput(f"template {source} has no release {wanted}") from None


def refuse_shared_repositories(repositories: list[RenderedRepository]) -> None:
    """Each update is a branch of the repository: two services in one git repository would
    meet each other's branch and count each other's changes."""
    seen: dict[Path, RenderedRepository] = {}
    for repository in repositories:
        top = top_level(repository.path)
        if top in seen:
            raise RefusedInput(
                f"{repository.path} and {seen[top].path} share the git repository {top}: "
                "fleet updates one service per repository; update the others with "
                "`copier update` in their folder"
            )
        seen[top] = repository


def refuse_another_release_at_source(
    repositories: list[RenderedRepository], targets: dict[Path, Release], template: str
) -> None:
    """copier updates from each repository's own `_src_path`: the release chosen from
    --template must be the same tag, on the same commit, there."""
    tags = {template: tag_objects(template)}
    for repository in repositories:
        source, release = repository.src_path, targets[repository.path]
        if location_key(source) == location_key(template):
            continue
        if source not in tags:
            tags[source] = tag_objects(source)
        if tags[source].get(release.tag) != tags[template].get(release.tag):
            found = "another commit for" if release.tag in tags[source] else "no"
            raise RefusedInput(
                f"{repository.path}: copier updates from its _src_path {source}, which has "
                f"{found} release {release.tag} of --template {template}: push the tag "
                "there, or leave --template out"
            )


def refuse_unknown_newer_release(run: Run, targets: dict[Path, Release]) -> None:
    """A service on a later release than the one asked is left as it is ("newer"), but only
    when the template has that release: an answers file naming one it lacks (`_commit` edited
    by hand, a tag never pushed) says nothing about what the service runs."""
    tags: dict[str, dict[str, str]] = {}
    for repository in run.repositories:
        version, target = version_of(repository.commit), targets[repository.path]
        if version is None or version <= target.version:
            continue
        source = run.source_of(repository)
        if source not in tags:
            tags[source] = tag_objects(source)
        if tag_of(repository.commit) not in tags[source]:
            raise RefusedInput(
                f"{repository.path}: its answers file names release {repository.commit}, "
                f"which template {source} does not have: `_commit` edited by hand, or a tag "
                "not pushed there"
            )


def describe_update(result: UpdateResult) -> str:
    name = f"{result.repository.service_name} ({shown_path(result.repository.path)})"
    match result.outcome:
        case Outcome.CURRENT:
            return f"{name}: current, already on {result.repository.commit}"
        case Outcome.NEWER:
            return (
                f"{name}: newer, already on {result.repository.commit}; "
                f"not downgraded to {result.target}"
            )
        case Outcome.UPDATED:
            return f"{name}: updated to {result.target}, on branch {result.branch}"
        case Outcome.CONFLICT:
            to_do = [f"resolve: {', '.join(result.conflicts)}"] if result.conflicts else []
            if result.missing:
                to_do.append(
                    "apply by hand what the release changes in files this repository deleted "
                    f"or renamed: {', '.join(result.missing)}"
                )
            return (
                f"{name}: conflict updating to {result.target}; the attempt is on branch "
                f"{result.branch}, {'; '.join(to_do)}"
            )
        case Outcome.FAILED:
            reason = one_line(result.reason)
            return f"{name}: failed updating to {result.target}, nothing changed: {reason}"
        case Outcome.BROKEN:
            reason = one_line(result.reason)
            return (
                f"{name}: failed updating to {result.target}, and the repository is NOT as it "
                f"was: check it by hand: {reason}"
            )


def run_update(run: Run) -> int:
    arguments, repositories = run.arguments, run.repositories
    known = Releases()
    # Every target is known before the first repository changes.
    targets = {
        repository.path: target_release(run.source_of(repository), arguments.to, known)
        for repository in repositories
    }
    refuse_shared_repositories(repositories)
    refuse_unknown_newer_release(run, targets)
    if run.template_override is not None:
        refuse_another_release_at_source(repositories, targets, run.template_override)
    results: list[UpdateResult] = []
    try:
        with Progress(len(repositories)) as progress:
            for position, repository in enumerate(repositories, start=1):
                target = targets[repository.path]
                progress.show(position, f"{repository.service_name}: updating to {target.tag}")
                results.append(update(repository, target, run.source_of(repository)))
    except KeyboardInterrupt:
        # The repository in hand was restored (update.py); say what the others got, so that a
        # second run is not a surprise (an update's branch already exists).
        for result in results:
            print(describe_update(result), file=sys.stderr)
        for repository in repositories[len(results) :]:
            print(
                f"{repository.service_name} ({shown_path(repository.path)}): not updated "
                "(interrupted)",
                file=sys.stderr,
            )
        raise
    if arguments.json:
        print_json(
            [
                {
                    "path": str(result.repository.path),
                    "service": result.repository.service_name,
                    "from": result.repository.commit,
                    "to": result.target,
                    "outcome": result.outcome.value,
                    "branch": result.branch,
                    "conflicts": list(result.conflicts),
                    "missing": list(result.missing),
                    "reason": one_line(result.reason) if result.reason else None,
                }
                for result in results
            ]
        )
    else:
        for result in results:
            print(describe_update(result))
    clean = {Outcome.UPDATED, Outcome.CURRENT, Outcome.NEWER}
    return EXIT_OK if all(result.outcome in clean for result in results) else EXIT_ATTENTION


COMMANDS: dict[str, Callable[[Run], int]] = {
    "status": run_status,
    "diff": run_diff,
    "update": run_update,
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        expected = expected_template(arguments.template)
        folders = chosen_folders(arguments, expected)
        repositories = load_all(folders, expected, refuse_dirty=arguments.command == "update")
        override = expected.source if arguments.template else None
        return COMMANDS[arguments.command](Run(arguments, repositories, override))
    except (RefusedInput, TemplateError) as refusal:
        print(f"fleet {arguments.command}: refused, nothing done:", file=sys.stderr)
        for line in str(refusal).splitlines():
            print(f"  {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"fleet {arguments.command}: interrupted", file=sys.stderr)
        return 130
