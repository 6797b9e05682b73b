"""The CDK CLI commands the docs, workflows and scripts show, checked against the pinned CLI's
own registry of its commands and options (aws-cdk's `lib/cli/cli-type-registry.json`). The CLI
only warns about an option it does not know ("These will be ignored") and exits 0: a misspelt
option would silently do nothing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from .shell_commands import PLACEHOLDER


def registry(cli_folder: Path) -> dict[str, Any]:
    """The registry of the CLI installed in `cli_folder` (its node_modules)."""
    path = cli_folder / "node_modules" / "aws-cdk" / "lib" / "cli" / "cli-type-registry.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _names(options: dict[str, Any]) -> dict[str, Any]:
    """Each option by its name and its aliases (`-e` for `--exclusively`)."""
    named = {}
    for name, option in options.items():
        aliases = option.get("alias") or []
        for alias in [name, *([aliases] if isinstance(aliases, str) else aliases)]:
            named[alias] = option
    return named


def cdk_refusal(arguments: list[str], known: dict[str, Any]) -> str | None:
    """What is wrong with `cdk <arguments>` by the registry `known`, or None."""
    commands = known["commands"]
    by_name = {
        alias: name
        for name, command in commands.items()
        for alias in [name, *command.get("aliases", [])]
    }
    if not arguments or arguments[0] not in by_name:
        return f"no command {arguments[:1]}"
    command = commands[by_name[arguments[0]]]
    options = _names({**known["globalOptions"], **command.get("options", {})})
    for token, following in itertools.pairwise([*arguments, ""]):
        if not token.startswith("-") or token == "-":
            continue
        name, _, inline = token.lstrip("-").partition("=")
        option = options.get(name)
        if option is None and name.startswith("no-"):
            negated = options.get(name.removeprefix("no-"))
            option = negated if negated and negated.get("type") == "boolean" else None
        if option is None:
            return f"{token}: no such option of cdk {by_name[arguments[0]]}"
        value = inline or following
        choices = option.get("choices") or []
        if choices and PLACEHOLDER not in value and value not in choices:
            return f"{token} {value}: not one of {', '.join(map(str, choices))}"
    return None
