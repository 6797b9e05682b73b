"""The template's documentation says what the code does."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .support.template import BASE_ANSWERS, TEMPLATE, extension, load_module

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


def test_usage_page_gives_each_questions_default_and_rule() -> None:
    # Protects: the reference table says what copier.yml does (default, choices, rule).
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in (DOCS / "usage.md").read_text().splitlines()
        if line.startswith("| `")
    ]
    for name, question in config.items():
        if name.startswith("_") or question.get("when") is False:
            continue
        row = next(row for row in rows if f"`{name}`" in row[0])
        default_cell, rule_cell = row[1], row[2]
        default = question.get("default")
        if default is None:
            assert default_cell == "—", name
        elif isinstance(default, str) and "{" in default:
            assert default_cell not in ("", "—"), name  # derived: described in words
        elif default == "":
            assert default_cell == "empty", name
        else:
            shown = yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("...")
            assert f"`{shown.strip()}`" in default_cell, (name, shown)
        for choice in question.get("choices", {}):
            assert f"`{choice}`" in rule_cell, (name, choice)
        assert rule_cell, name


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    # Protects: every page is in the nav and every link and anchor resolves (mkdocs.yml's
    # validation settings make each of those a warning, and --strict fails on any warning).
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("updating", "maintaining", "security", "costs", "architecture"):
        assert (tmp_path / page / "index.html").is_file(), page
    nav = (TEMPLATE / "mkdocs.yml").read_text()
    for adr in sorted((DOCS / "decisions").glob("0*.md")):
        assert f"decisions/{adr.name}" in nav, adr.name
        assert f"({adr.name})" in (DOCS / "decisions" / "README.md").read_text(), adr.name
        # Each record says when it was decided and where it stands, as the template does.
        head = adr.read_text().split("\n\n", 2)[1]
        assert re.fullmatch(
            r"- \*\*Date:\*\* \d{4}-\d{2}-\d{2}\n- \*\*Status:\*\* (proposed|accepted|superseded.*)",
            head,
        ), adr.name


def example_environments(**answers: Any) -> list[dict[str, Any]]:
    """`deploy_environments` as copier.yml derives it, for the example answers plus `answers`."""
    naming = extension("naming")
    given = {
        **BASE_ANSWERS,
        "environments": ["prod"],
        "sizing": "small",
        "spot_in_non_production": True,  # a new service's default
        "backup_plan": True,  # a new service's default
        "compliance_packs": [],
        **answers,
    }
    qualifier = naming.default_qualifier(given["service_name"]).strip()
    names = [name for name in ("dev", "staging", "prod") if name in given["environments"]]
    accounts = [
        str(given["aws_account_id"] if name == "prod" else given[f"{name}_account_id"])
        for name in names
    ]
    return [
        {
            "name": name,
            "pascal": name.capitalize(),
            "account": account,
            "sizing": given["sizing"] if name == "prod" else "small",
            "qualifier": naming.environment_qualifier(qualifier, name, account, accounts).strip(),
            "spot": given["spot_in_non_production"] and name != "prod",
            "backup": bool(given["compliance_packs"]) or (given["backup_plan"] and name == "prod"),
        }
        for name, account in zip(names, accounts, strict=True)
    ]


def test_architecture_page_shows_the_example_diagram() -> None:
    zones = extension("regions").REGION_AVAILABILITY_ZONES["ap-northeast-1"]
    diagram = extension("diagram").architecture(
        "orders-api",
        "acme/orders-api",
        True,
        "ap-northeast-1",
        zones,
        example_environments(),
        "fixed",
        "arm64",
        drift_detection=True,  # a new service's default
    )
    page = (DOCS / "architecture.md").read_text()
    assert diagram.strip() in page
    # The same service with every workload, between the page's generated markers.
    every_workload = extension("diagram").architecture(
        "orders-api",
        "acme/orders-api",
        True,
        "ap-northeast-1",
        zones,
        example_environments(),
        "fixed",
        "arm64",
        ["api", "worker", "scheduled_job"],
        "daily_report",
        "cron(0 3 * * ? *)",
        True,
    )
    expected = GENERATED_BLOCK.sub(
        lambda match: f"{match[1]}\n{every_workload.strip()}\n\n{match[4]}", page
    )
    if os.environ.get("UPDATE_DOCS") == "1":
        (DOCS / "architecture.md").write_text(expected)
    assert page == expected, (
        "docs/architecture.md is stale: UPDATE_DOCS=1 uv run pytest tests/test_docs.py"
    )


GENERATED_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end -->)", re.DOTALL)


def test_costs_page_shows_the_price_table_and_example_estimates() -> None:
    # Protects: the prices, the regions' coverage and the example estimates on the page are
    # what the macros write today. UPDATE_DOCS=1 rewrites them after a price changes.
    prices = extension("prices")
    large = example_environments(
        sizing="large",
        environments=["dev", "staging", "prod"],
        dev_account_id="210987654321",
        staging_account_id="210987654322",
    )
    blocks = {
        "price_list": prices.price_list(),
        "region_coverage": prices.region_coverage(),
        # New services' defaults: arm64 tasks, dev and staging on Fargate Spot.
        "example_service": prices.cost_estimate(
            example_environments(), "ap-northeast-1", 3, "arm64"
        ),
        "three_environments": prices.cost_estimate(large, "us-east-1", 3, "arm64"),
        # The first job as a new service gets it: daily at 03:00 UTC.
        "all_workloads": prices.cost_estimate(
            large,
            "us-east-1",
            3,
            "arm64",
            ["api", "worker", "scheduled_job"],
            False,
            "cron(0 3 * * ? *)",
        ),
    }
    path = DOCS / "costs.md"
    page = path.read_text()
    assert sorted(match[2] for match in GENERATED_BLOCK.finditer(page)) == sorted(blocks)
    expected = GENERATED_BLOCK.sub(
        lambda match: f"{match[1]}\n{blocks[match[2]].strip()}\n\n{match[4]}", page
    )
    if os.environ.get("UPDATE_DOCS") == "1":
        path.write_text(expected)
    assert page == expected, (
        "docs/costs.md is stale: UPDATE_DOCS=1 uv run pytest tests/test_docs.py"
    )
