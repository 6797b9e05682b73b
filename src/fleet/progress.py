"""One line on stderr naming the repository fleet is working on, redrawn in place; shown only
on a terminal, so logs and pipes get nothing but the report."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Self, TextIO

CLEAR_LINE = "\r\x1b[K"


class Progress:
    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.stream = stream
        self.enabled = stream.isatty()

    def show(self, position: int, text: str) -> None:
        if self.enabled:
            self.stream.write(f"{CLEAR_LINE}[{position}/{self.total}] {text}")
            self.stream.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.enabled:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
