"""What a rendered project holds: its answers, what its tools generate, and how copier marks a
conflict in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .environments import shared_environment
from .template import BASE_ANSWERS

CONFLICT = re.compile(
    r"^<<<<<<< before updating$.*?^>>>>>>> after updating$\n?", re.MULTILINE | re.DOTALL
)
# What a rendered project's own tools create in it (never rendered, never compared).
GENERATED = {
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    "__pycache__",
    ".dev",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
}


def answers_of(project: Path) -> dict[str, Any]:
    """The project's copier answers, as its answers file holds them."""
    loaded: dict[str, Any] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return loaded


# The session fixtures of tests/conftest.py, one per kind of service.
PROJECTS = ["default_project", "medium_project", "large_project"]


def copied(copie_session: Any, **answers: Any) -> Path:
    """Render with pytest-copie once per session; the project must render cleanly."""
    result = copie_session.copy(extra_answers={**BASE_ANSWERS, **answers})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_dir)
    shared_environment(project)
    shared_environment(project / "service")
    return project
