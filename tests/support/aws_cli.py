"""The AWS CLI commands the docs show, checked by the AWS CLI's own parser: the service, the
operation and every option must exist, with the values the command gives them."""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import warnings
from pathlib import Path

from awscli.clidriver import CLIDriver, create_clidriver
from botocore import xform_name

from .shell_commands import PLACEHOLDER

# AWS CLI v2's own commands, which v1 (the CLI on PyPI, with the same services, operations and
# parameters: botocore's models) does not have.
V2_ONLY = {("logs", "tail")}
# Where no server listens: the CLI, having accepted a command, fails to connect.
NOWHERE = ["--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"]
ACCEPTED = "Could not connect to the endpoint URL"


@functools.cache
def _driver() -> CLIDriver:
    # One for every command: it loads each service's model once.
    return create_clidriver()


def refusal(arguments: list[str], folder: Path, *, whole: bool = True) -> str | None:
    """What the AWS CLI says against the command, or None when it accepts it (it then tries
    to reach AWS); a command that is not whole (prose naming it) may leave out required
    options. Files the command reads (`file://...`, `fileb://...`) are written, empty JSON, in
    `folder`, the current directory."""
    if tuple(arguments[:2]) in V2_ONLY:
        return None
    for argument in arguments:
        for scheme in ("file://", "fileb://"):  # text, or bytes as they are
            if argument.startswith(scheme):
                (folder / argument.removeprefix(scheme)).write_text("{}")
    errors = io.StringIO()
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(errors),
        warnings.catch_warnings(),
    ):
        # A query in a syntax JMESPath deprecates (a bare `literal`) is refused too.
        warnings.filterwarnings("error", module="jmespath")
        try:
            _driver().main([*arguments, *NOWHERE])
        except SystemExit:
            pass
    said = errors.getvalue().strip().splitlines() or ["(nothing)"]
    if ACCEPTED in said[-1]:
        return _outside_the_choices(arguments)
    # Accepted, then stopped on what a placeholder cannot give: the JSON of a file written
    # by an earlier command, a local plugin.
    if "--cli-input-json" in arguments and "Missing required parameter in input" in said[-1]:
        return None
    if arguments[:2] == ["ecs", "execute-command"] and "SessionManagerPlugin" in said[-1]:
        return None
    if not whole and any("the following arguments are required" in line for line in said):
        return None
    # A complaint about the placeholder's value itself (a date the shell computes is no date
    # here); never an unknown option, whose message may quote the value after it.
    if PLACEHOLDER in said[-1] and said[-1].startswith("Invalid type for parameter"):
        return None
    # argparse ends with its list of choices; the line before says what was wrong.
    return next((line for line in said if "Invalid choice" in line or "error" in line), said[-1])


def _outside_the_choices(arguments: list[str]) -> str | None:
    """An option given a value its parameter's closed set (an enum of the service's model)
    lacks: botocore sends those unchecked, and AWS refuses them."""
    command = _driver()._get_command_table().get(arguments[0])
    # A service's command has its model; the CLI's own commands (`s3 cp`...) have none.
    model = getattr(command, "service_model", None)
    if model is None:
        return None
    operation = next(
        (name for name in model.operation_names if xform_name(name, "-") == arguments[1]), None
    )
    shape = model.operation_model(operation).input_shape if operation else None
    if shape is None:
        return None
    members = {xform_name(name, "-"): member for name, member in shape.members.items()}
    for option, value in itertools.pairwise(arguments):
        member = members.get(option.removeprefix("--")) if option.startswith("--") else None
        closed = getattr(member, "enum", None) or []  # only string shapes have one
        if closed and PLACEHOLDER not in value and value not in closed:
            return f"{option} {value}: not one of {', '.join(closed)}"
    return None
