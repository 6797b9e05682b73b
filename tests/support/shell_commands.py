"""Commands as the docs, workflows and scripts show them: the shell code of a Markdown text
(its fenced blocks and inline code spans), each command of a program in it as its arguments,
with what the shell would fill in ($VAR, $(...), <placeholder>, ${{ }}) replaced."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

# Stands in for what a command takes from the shell: long enough for the length rules the AWS
# CLI checks before it sends a request (a version id's 32...).
PLACEHOLDER = "placeholder-placeholder-placeholder"
SHELL_OPERATORS = {";", "&&", "||", "|", ">", ">>", "<", "&"}


def shell_snippets(text: str) -> Iterator[tuple[str, bool]]:
    """The code of a Markdown text: its fenced blocks, then its inline code spans, each with
    whether it is a block (whole commands; a span may name a command by its operation)."""
    inside = False
    lines: list[str] = []
    prose: list[str] = []
    for line in text.splitlines():
        if re.match(r"^\s*```", line):
            if inside:
                yield "\n".join(lines), True
            inside, lines = not inside, []
        elif inside:
            lines.append(line)
        else:
            prose.append(line)
    # A span may wrap onto the next line of its paragraph.
    for span in re.findall(r"`([^`]+)`", " ".join(prose)):
        yield span, False


def commands_of(
    text: str, program: str, *, markdown: bool = True
) -> Iterator[tuple[list[str], bool]]:
    """Each command of `program` (`aws`, `npx cdk`) in the shell code of a Markdown text (or
    in a script or workflow, whole), as its arguments, what the shell would fill in replaced
    by a placeholder, and whether it is whole (not a span of prose naming it)."""
    snippets = shell_snippets(text) if markdown else iter([(text, True)])
    for snippet, whole in snippets:
        for line in re.sub(r"\\\n\s*", " ", snippet).splitlines():
            if line.lstrip().startswith("#"):
                continue
            line = re.sub(r"<[^<>\n]+>", PLACEHOLDER, line)
            line = re.sub(r"\$\{\{[^}]*\}\}", PLACEHOLDER, line)  # GitHub's expressions
            for command in _without_substitutions(line):
                command = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", PLACEHOLDER, command)
                start = rf"(?:^|[\s;|&]){re.escape(program)}\s+[a-z0-9]"
                for match in re.finditer(start, command):
                    lexer = shlex.shlex(
                        command[match.end() - 1 :], posix=True, punctuation_chars=";&|<>"
                    )
                    lexer.whitespace_split = True
                    arguments = []
                    try:
                        for token in lexer:
                            if token in SHELL_OPERATORS:
                                break
                            arguments.append(token)
                    except ValueError:
                        # A span that is part of a command (an open quote): not one to run.
                        continue
                    yield arguments, whole


def _without_substitutions(line: str) -> list[str]:
    """The line with each `$(...)` replaced by a placeholder, then the commands inside them."""
    inner = []
    while match := re.search(r"\$\(([^()]*)\)", line):
        inner.append(match.group(1))
        line = line[: match.start()] + PLACEHOLDER + line[match.end() :]
    return [line, *inner]
