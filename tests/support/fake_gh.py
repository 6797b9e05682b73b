"""A stand-in for GitHub's `gh` CLI, for the drift workflow's issue job: the commands that job
runs, with the flags it passes, over a repository's issues kept in a JSON file
(`FAKE_GH_STATE`). Anything else is an error, so that a change to the job's commands fails its
test instead of passing against a fake that guesses.

Run as `python fake_gh.py <gh arguments>` (the test puts a `gh` script on PATH that does so).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

# The two `--jq` filters the job uses (gh applies them with its built-in jq).
FIRST_WITH_TITLE = re.compile(
    r'^map\(select\(\.title == "(?P<title>[^"]*)"\)\) \| \.\[0\]\.number // empty$'
)
BODY = ".body"


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


def main(arguments: list[str]) -> None:
    # The real gh needs both: the job passes them as environment variables.
    if not os.environ.get("GH_TOKEN") or not os.environ.get("GH_REPO"):
        raise SystemExit("fake gh: GH_TOKEN and GH_REPO must be set")
    path = Path(os.environ["FAKE_GH_STATE"])
    state: dict[str, Any] = json.loads(path.read_text())
    command, rest = arguments[:2], arguments[2:]
    if command == ["label", "create"]:
        (name,), _ = _options(rest, {"--color", "--description"})
        state["labels"] = sorted({*state["labels"], name})
    elif command == ["issue", "list"]:
        _, options = _options(rest, {"--state", "--label", "--limit", "--json", "--jq"})
        assert options["--json"] == "number,title", options
        selected = FIRST_WITH_TITLE.match(options["--jq"])
        if not selected:
            raise SystemExit(f"fake gh: unknown --jq filter {options['--jq']}")
        listed = [
            issue
            for issue in state["issues"]
            if options["--state"] in (issue["state"], "all")
            and options["--label"] in issue["labels"]
        ][: int(options["--limit"])]
        found = [issue["number"] for issue in listed if issue["title"] == selected.group("title")]
        if found:
            print(found[0])
    elif command == ["issue", "create"]:
        _, options = _options(rest, {"--title", "--label", "--body-file"})
        if options["--label"] not in state["labels"]:
            raise SystemExit(f"fake gh: label {options['--label']} does not exist")
        created = len(state["issues"]) + 1
        state["issues"].append(
            {
                "number": created,
                "title": options["--title"],
                "labels": [options["--label"]],
                "state": "open",
                "body": Path(options["--body-file"]).read_text(),
                "comments": [],
            }
        )
        print(f"https://github.com/{os.environ['GH_REPO']}/issues/{created}")
    elif command == ["issue", "view"]:
        (number,), options = _options(rest, {"--json", "--jq"})
        assert (options["--json"], options["--jq"]) == ("body", BODY), options
        # In two writes, as gh may write a long body: a reader that stops reading after the
        # first (`| grep -q`) ends gh with a broken pipe, a failed pipeline under pipefail.
        sys.stdout.write(_issue(state, number)["body"])
        sys.stdout.flush()
        time.sleep(0.2)
        sys.stdout.write("\n")
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
