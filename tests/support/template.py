"""The template repository itself: where it is, its example answers, its README's commands,
its Jinja extensions and plain Python modules as the tests load them."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import jinja2
import yaml

TEMPLATE = Path(__file__).resolve().parent.parent.parent
# The README's example service; each test overrides what it needs.
BASE_ANSWERS: dict[str, Any] = yaml.safe_load((TEMPLATE / "example-answers.yml").read_text())

LEGACY_ANSWERS = {
    key: BASE_ANSWERS[key]
    for key in ("service_name", "aws_account_id", "aws_region", "github_repository")
}


def readme_bash_blocks(section: str) -> list[str]:
    """The ```bash blocks of one section of the template's README, in order."""
    readme = (TEMPLATE / "README.md").read_text()
    body = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, re.DOTALL)


def extension(name: str) -> Any:
    """One of the template's Jinja files in extensions/, as copier loads it: its top-level
    values and macros, with the filters copier ships (jinja2-ansible-filters)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template(f"extensions/{name}.jinja").module


def module_at(path: Path, name: str) -> Any:
    """A plain Python module loaded from its file, as `name` (its package is not importable
    here: the template's, or a rendered project's)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_module(relative_path: str) -> Any:
    """A plain Python module of the template by path."""
    path = TEMPLATE / relative_path
    return module_at(path, f"template_{path.stem}")
