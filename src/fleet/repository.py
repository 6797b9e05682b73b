"""A service repository rendered from the template, as its `.copier-answers.yml` describes it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from fleet.git import changed_paths, is_tracked, top_level, work_tree_refusal
from fleet.template import ExpectedTemplate, local_folder

ANSWERS_FILE = ".copier-answers.yml"
# Folders that are never part of a rendered repository's content: tools' output and caches.
NOT_RENDERED = frozenset(
    {
        ".git",
        ".venv",
        "node_modules",
        "cdk.out",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
    }
)


class RefusedInput(Exception):
    """A folder fleet will not work on; the message says why and what to do."""


@dataclass(frozen=True)
class RenderedRepository:
    path: Path
    answers: Mapping[str, Any]

    @property
    def service_name(self) -> str:
        return str(self.answers.get("service_name") or self.path.name)

    @property
    def commit(self) -> str:
        """The template version it is on: copier's `_commit`."""
        return str(self.answers["_commit"])

    @property
    def src_path(self) -> str:
        """Where it was rendered from: copier's `_src_path`, a relative path made absolute
        from the current folder as copier does."""
        source = str(self.answers["_src_path"])
        folder = local_folder(source)
        return str(folder) if folder is not None else source

    @property
    def questions_answered(self) -> dict[str, Any]:
        """The answers without copier's own keys (`_commit`, `_src_path`): what a render of the
        same service takes as data."""
        return {key: value for key, value in self.answers.items() if not key.startswith("_")}

    def is_clean(self) -> bool:
        return not changed_paths(self.path)


def load(folder: Path, expected: ExpectedTemplate) -> RenderedRepository:
    """The repository in `folder`, or RefusedInput when fleet must not touch it."""
    path = folder.expanduser().resolve()
    answers_file = path / ANSWERS_FILE
    if not path.is_dir():
        raise RefusedInput(
            f"{folder}: {'a file, not a folder' if path.exists() else 'no such folder'}"
        )
    if not answers_file.is_file():
        raise RefusedInput(
            f"{folder}: not a rendered repository (no {ANSWERS_FILE}; give the folder that "
            "copier rendered)"
        )
    try:
        answers = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as error:
        raise RefusedInput(f"{folder}: {ANSWERS_FILE} cannot be read: {error}") from error
    if not isinstance(answers, dict) or not answers.get("_src_path") or not answers.get("_commit"):
        raise RefusedInput(
            f"{folder}: {ANSWERS_FILE} does not say which template and version rendered it "
            "(_src_path and _commit); it was not rendered from a git-tagged template"
        )
    refusal = work_tree_refusal(path)
    if refusal is not None:
        raise RefusedInput(f"{folder}: {refusal}")
    # Its answers file committed where it is: a folder another repository ignores or has not
    # added (a render inside the template's checkout, before `git init`) would be updated,
    # and thrown away on failure, in that other repository.
    if not is_tracked(path, ANSWERS_FILE):
        raise RefusedInput(
            f"{folder}: its {ANSWERS_FILE} is not committed in the git repository at "
            f"{top_level(path)} (git init the service and commit it first)"
        )
    repository = RenderedRepository(path=path, answers=MappingProxyType(answers))
    if not expected.names(repository.src_path):
        written = str(answers["_src_path"])
        # A relative _src_path is read from the current folder, as copier reads it: say so.
        named = (
            written if written == repository.src_path else f"{written}, here {repository.src_path}"
        )
        raise RefusedInput(
            f"{folder}: rendered from another template ({named}), not {expected.source}"
        )
    return repository


def find_rendered(below: Path) -> Iterator[Path]:
    """Folders below `below` that hold an answers file, in path order; tool folders such as
    `.venv` and `node_modules` are not searched."""
    for folder, subfolders, files in os.walk(below):
        subfolders[:] = sorted(name for name in subfolders if name not in NOT_RENDERED)
        if ANSWERS_FILE in files:
            yield Path(folder)
