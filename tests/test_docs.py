"""The template's documentation says what the code does."""

from __future__ import annotations

import re
import sys

import yaml

from .conftest import TEMPLATE

DOCS = TEMPLATE / "docs"


def test_sizing_page_shows_the_presets_table_of_the_code() -> None:
    sys.path.insert(0, str(TEMPLATE / "extensions"))
    try:
        import context  # the template's own extension module
    finally:
        sys.path.remove(str(TEMPLATE / "extensions"))
    assert context.sizing_table() in (DOCS / "sizing.md").read_text()


def test_usage_page_documents_every_question() -> None:
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    usage = (DOCS / "usage.md").read_text()
    for question in (key for key in config if not key.startswith("_")):
        assert f"`{question}`" in usage, question


def test_every_page_link_resolves() -> None:
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([\w./-]+\.md)\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} -> {target}"
