"""A person at a terminal: a program in a pseudo-terminal (pexpect) of 80 columns, and a
terminal emulator (pyte) keeping the screen, so a test reads what the person reads."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pexpect
import pyte

COLUMNS, ROWS = 80, 50
ENTER, UP, DOWN, SPACE, BACKSPACE = "\r", "\x1b[A", "\x1b[B", " ", "\x7f"


class Terminal:
    """A person at an 80-column terminal running one command."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.Stream(self.screen)
        self.transcript = ""
        environment = {**os.environ, "TERM": "xterm-256color"}
        environment.pop("PROMPT_TOOLKIT_NO_CPR", None)
        self.child = pexpect.spawn(
            command[0],
            command[1:],
            cwd=cwd,
            env=environment,
            encoding="utf-8",
            timeout=30,
            dimensions=(ROWS, COLUMNS),
        )
        self.child.logfile_read = self
        # prompt_toolkit asks where the cursor is (CPR) and, like a real terminal, the screen
        # answers. Without an answer it never learns the terminal's height and hides its bottom
        # toolbar, where a multi-select question shows its validation message.
        self.screen.write_process_input = self.child.send  # type: ignore[method-assign,assignment]

    # pexpect's logfile protocol: everything the program prints reaches the screen.
    def write(self, text: str) -> None:
        self.transcript += text
        self._stream.feed(text)

    def flush(self) -> None:
        pass

    def answer(self, prompt: str, keys: str) -> None:
        """Wait for a prompt (a piece of its help), then type the keys."""
        self.child.expect(re.escape(prompt))
        self.child.send(keys)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def wait_for_line(self, text: str) -> str:
        """The screen line showing ``text`` once the program has drawn it."""
        self.child.expect(re.escape(text))
        self.child.expect(pexpect.TIMEOUT, timeout=0.5)  # let it finish drawing
        return next(line for line in self.lines() if text in line)

    def finish(self) -> int:
        self.child.expect(pexpect.EOF, timeout=120)
        self.child.close()
        assert self.child.exitstatus is not None, "copier ended on a signal"
        return self.child.exitstatus
