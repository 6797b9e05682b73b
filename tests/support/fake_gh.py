"""A stand-in for GitHub's `gh` CLI, for the rendered workflows' issue steps (the drift check's,
the template-update check's): the commands they run, with the flags they pass, over a
repository's issues kept in a JSON file (`FAKE_GH_STATE`). Anything else is an error, so that a
change to those commands fails their test instead of passing against a fake that guesses.
`--jq` filters run through jq itself (gh runs them with its built-in jq).

Run as `python fake_gh.py <gh arguments>` (the test puts a `gh` script on PATH that does so).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The one kind of search the steps make: issues whose title contains a phrase.
TITLE_SEARCH = re.compile(r'^in:title "(?P<phrase>[^"]*)"$')


def _options(arguments: list[str], flags: set[str]) -> tuple[list[str], dict[str, str]]:
    """Positional arguments, and the value of each `--flag value`; `--force` takes none."""
    positional: list[str] = []
    options: dict[str, str] = {}
    remaining = iter(arguments)
    for argument in remaining:
        if argument == "--force":
            options["--force"] = ""
        elif argument.startswith("--"):
            if argument not in flags:
                raise SystemExit(f"fake gh: unknown flag {argument}")
            options[argument] = next(remaining)
        else:
            positional.append(argument)
    return positional, options


def _issue(state: dict[str, Any], number: str) -> dict[str, Any]:
    issue: dict[str, Any] = state["issues"][int(number) - 1]
    return issue


def _print(
    value: dict[str, Any] | list[dict[str, Any]], fields: str, jq_filter: str | None
) -> None:
    """What gh prints for `--json <fields> [--jq <filter>]`: the fields, through the filter,
    strings raw. In two writes, as gh may write a long output: a reader that stops reading
    after the first (`| grep -q`, `| head`) ends gh with a broken pipe, which `pipefail`
    turns into a failed pipeline."""

    def only_fields(item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in fields.split(",")}

    data = [only_fields(i) for i in value] if isinstance(value, list) else only_fields(value)
    output = json.dumps(data) + "\n"
    if jq_filter is not None:
        output = subprocess.run(
            ["jq", "-r", jq_filter], input=output, capture_output=True, text=True, check=True
        ).stdout
    sys.stdout.write(output[:-1])
    sys.stdout.flush()
    time.sleep(0.05)
    sys.stdout.write(output[-1:])


def main(arguments: list[str]) -> None:
    # As gh: a token, and the repository from GH_REPO or else the checkout's git remote.
    if not os.environ.get("GH_TOKEN"):
        raise SystemExit("fake gh: GH_TOKEN is not set")
    remote = subprocess.run(
        ["git", "remote", "get-url", "origin"], capture_output=True, text=True, check=False
    )
    if not os.environ.get("GH_REPO") and remote.returncode != 0:
        raise SystemExit("fake gh: no GH_REPO and no git remote: which repository?")
    path = Path(os.environ["FAKE_GH_STATE"])
    state: dict[str, Any] = json.loads(path.read_text())
    command, rest = arguments[:2], arguments[2:]
    if command == ["label", "create"]:
        (name,), _ = _options(rest, {"--color", "--description"})
        state["labels"] = sorted({*state["labels"], name})
    elif command == ["issue", "list"]:
        _, options = _options(rest, {"--state", "--label", "--limit", "--search", "--json", "--jq"})
        search = TITLE_SEARCH.match(options.get("--search", 'in:title ""'))
        if not search:
            raise SystemExit(f"fake gh: unknown search {options['--search']}")
        listed = [
            issue
            for issue in reversed(state["issues"])  # newest first, as gh lists them
            if options.get("--state", "open") in (issue["state"], "all")
            and ("--label" not in options or options["--label"] in issue["labels"])
            and search.group("phrase").lower() in issue["title"].lower()
        ][: int(options.get("--limit", "30"))]
        _print(listed, options["--json"], options.get("--jq"))
    elif command == ["issue", "create"]:
        _, options = _options(rest, {"--title", "--label", "--body-file"})
        labels = [options["--label"]] if "--label" in options else []
        if not set(labels) <= set(state["labels"]):
            raise SystemExit(f"fake gh: label {options['--label']} does not exist")
        created = len(state["issues"]) + 1
        state["issues"].append(
            {
                "number": created,
                "title": options["--title"],
                "labels": labels,
                "state": "open",
                "body": Path(options["--body-file"]).read_text(),
                "comments": [],
            }
        )
        print(f"https://github.com/issues/{created}")
    elif command == ["issue", "view"]:
        (number,), options = _options(rest, {"--json", "--jq"})
        _print(_issue(state, number), options["--json"], options.get("--jq"))
    elif command == ["issue", "edit"]:
        (number,), options = _options(rest, {"--body-file"})
        _issue(state, number)["body"] = Path(options["--body-file"]).read_text()
    elif command == ["issue", "comment"]:
        (number,), options = _options(rest, {"--body"})
        _issue(state, number)["comments"].append(options["--body"])
    elif command == ["issue", "close"]:
        (number,), options = _options(rest, {"--comment"})
        issue = _issue(state, number)
        issue["state"] = "closed"
        issue["comments"].append(options["--comment"])
    else:
        raise SystemExit(f"fake gh: unknown command {' '.join(arguments)}")
    path.write_text(json.dumps(state))


if __name__ == "__main__":
    main(sys.argv[1:])
