"""The template's README, run as written: from a clean clone, with copier alone (uvx)."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import TEMPLATE, run


def _bash_blocks(section: str) -> list[str]:
    readme = (TEMPLATE / "README.md").read_text()
    body = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, re.DOTALL)


def test_example_service_renders_and_passes_its_checks_as_written(tmp_path: Path) -> None:
    # A clean clone of what is committed: what a new maintainer gets.
    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(TEMPLATE), str(clone)], tmp_path)
    render, check = _bash_blocks("Render an example service")
    # From a folder other than the root: the command finds the clone itself.
    run(["bash", "-euo", "pipefail", "-c", render], clone / "docs")
    example = clone / "example" / "orders-api"
    result = run(["bash", "-euo", "pipefail", "-c", check], example, timeout=900)
    assert "Successfully synthesized" in result.stdout + result.stderr
    answers = (example / ".copier-answers.yml").read_text()
    assert "service_name: orders-api" in answers
