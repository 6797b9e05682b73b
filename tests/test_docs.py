"""The template's documentation says what the code does."""

from __future__ import annotations

import dataclasses
import re

import yaml

from .conftest import TEMPLATE, extension, load_module

DOCS = TEMPLATE / "docs"


def test_sizing_extension_mirrors_the_sizing_code() -> None:
    # The README, its diagram and its cost estimate read the Jinja copy; stacks read sizing.py.
    code = load_module("template/{{ package_name }}/sizing.py").SIZING_PRESETS
    copy = extension("sizing").SIZING_PRESETS
    assert {name: dataclasses.asdict(preset) for name, preset in code.items()} == copy


def test_sizing_page_shows_the_presets_table_of_the_code() -> None:
    assert extension("sizing").sizing_table().strip() in (DOCS / "sizing.md").read_text()


def test_usage_page_documents_every_question() -> None:
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    usage = (DOCS / "usage.md").read_text()
    asked = (k for k, v in config.items() if not k.startswith("_") and v.get("when") is not False)
    for question in asked:
        assert f"`{question}`" in usage, question


def test_every_page_link_resolves() -> None:
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([\w./-]+\.md)\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} -> {target}"
