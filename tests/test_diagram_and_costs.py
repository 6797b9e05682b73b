"""The rendered README's architecture diagram and monthly cost estimate follow the answers."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from .support.projects import copied
from .support.template import TEMPLATE, extension

MONEY = r"\$([\d,]+\.\d{2})"
# A cost table row: | label | what is counted | $amount |
ITEM_ROW = re.compile(rf"^\| ([^|*][^|]*?) \| ([^|]+) \| {MONEY} \|$")
ENV_TOTAL_ROW = re.compile(rf"^\| \*\*Total (\w+)\*\* \| \| \*\*{MONEY}\*\* \|$")
SUMMARY_ROW = re.compile(rf"^\| (\w+) \| {MONEY} \|$")
GRAND_TOTAL_ROW = re.compile(rf"^\| \*\*Total\*\* \| \*\*{MONEY}\*\* \|$")
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%")
HOURS = 730


def amount(text: str) -> float:
    return float(text.replace(",", ""))


def section(readme: str, title: str) -> str:
    """The body of one `## title` section of a rendered README."""
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def mermaid(project: Path) -> str:
    blocks = re.findall(
        r"```mermaid\n(.*?)```", section(readme(project), "Architecture"), re.DOTALL
    )
    assert len(blocks) == 1
    block: str = blocks[0]
    return block


def readme(project: Path) -> str:
    return (project / "README.md").read_text()


def costs(project: Path) -> dict[str, dict[str, float]]:
    """Each environment's cost lines, its stated total (key "Total") and, under "All", the
    summary lines and the grand total, parsed from the rendered Markdown."""
    text = section(readme(project), "Monthly cost estimate")
    tables: dict[str, dict[str, float]] = {}
    current: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("### "):
            current = tables.setdefault(line.split()[1], {})
        elif match := ENV_TOTAL_ROW.match(line):
            current["Total"] = amount(match[2])
        elif match := GRAND_TOTAL_ROW.match(line):
            current["Total"] = amount(match[1])
        elif match := ITEM_ROW.match(line):
            current[match[1].rstrip(" †")] = amount(match[3])
        elif match := SUMMARY_ROW.match(line):
            current[match[1]] = amount(match[2])
    return tables


def environments(project: Path) -> list[str]:
    return re.findall(r"^\| (dev|staging|prod) \| `\d{12}` \|", readme(project), re.MULTILINE)


# ---------------------------------------------------------------- the price table


def test_every_region_has_prices_for_every_preset() -> None:
    regions = extension("regions").REGION_AVAILABILITY_ZONES
    prices = extension("prices")
    presets = extension("sizing").SIZING_PRESETS
    assert set(prices.REGIONAL_PRICES) == set(regions)
    reference = set(prices.REGIONAL_PRICES[prices.REFERENCE_REGION])
    # The reference region prices every instance type a preset uses itself: the fallback of
    # every other region.
    for preset in presets.values():
        assert f"postgresql:db.{preset['database_instance_type']}" in reference
        assert f"redis:{preset['cache_node_type']}" in reference
    for region in regions:
        for key in set(prices.GLOBAL_PRICES) | reference:
            assert float(prices.price(region, key)) > 0, (region, key)


def test_price_table_states_its_source_and_date() -> None:
    # Protects: a reader can tell where every kind of price comes from, and how old it is.
    prices = extension("prices")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.PRICES_CHECKED)
    assert re.search(r"data of \d{4}-\d{2} to \d{4}-\d{2}", prices.PRICE_SOURCE)
    header = (TEMPLATE / "extensions" / "prices.jinja").read_text().split("-#}")[0]
    for kind in (
        "RDS for PostgreSQL instances:",
        "ElastiCache nodes:",
        "Fargate, load balancer hours and LCUs, RDS gp3 storage:",
        "Fargate arm64 (Linux/ARM",
        "Fargate Spot (x86 and arm64):",
        "CloudWatch Logs ingestion:",
        "NAT gateways:",
        "SQS standard queue requests",
    ):
        source = header.split(kind)[1].split("\n    - ")[0]
        assert re.search(r"\d{4}", source), f"{kind} names no date"


# ---------------------------------------------------------------- the diagram


def test_diagram_subnet_plan_is_the_network_code() -> None:
    # Protects: the address ranges the diagram prints are the ones network.py deploys.
    tree = ast.parse((TEMPLATE / "template/{{ package_name }}/network.py").read_text())
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    values |= {
        node.target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.value is not None
    }
    diagram = extension("diagram")
    assert diagram.VPC_CIDR == values["VPC_CIDR"]
    assert {
        plan: {tier: tuple(ranges) for tier, ranges in tiers.items()}
        for plan, tiers in diagram.ADDRESS_PLANS.items()
    } == values["ADDRESS_PLANS"]


def check_mermaid_structure(chart: str) -> None:
    """Balanced subgraphs, and every edge joins nodes the chart defines."""
    lines = [line.strip() for line in chart.splitlines() if line.strip()]
    assert lines[0] == "flowchart TB"
    assert sum(line.startswith("subgraph ") for line in lines) == lines.count("end")
    defined = set(re.findall(r"^\s*(?:subgraph )?([A-Za-z0-9_]+)[\[(]", chart, re.MULTILINE))
    for line in lines:
        if "-->" in line or ".->" in line:
            ends = re.split(r"\s+(?:--\s[^-]+\s)?-->\s+|\s+-\.\s[^.]+\s\.->\s+|\s+-->\s+", line)
            for node in ends:
                assert node in defined, (node, line)


@pytest.mark.parametrize(
    ("fixture", "nat_gateways", "multi_az", "replicas", "diff_role"),
    [
        ("default_project", {"prod": 1}, False, 0, True),
        ("medium_project", {"dev": 1, "prod": 2}, True, 1, False),
        ("large_project", {"dev": 1, "staging": 1, "prod": 3}, True, 2, True),
    ],
)
def test_diagram_follows_the_answers(
    fixture: str,
    nat_gateways: dict[str, int],
    multi_az: bool,
    replicas: int,
    diff_role: bool,
    request: pytest.FixtureRequest,
) -> None:
    project: Path = request.getfixturevalue(fixture)
    chart = mermaid(project)
    check_mermaid_structure(chart)
    assert not UNRENDERED.search(section(readme(project), "Architecture"))
    # One subgraph per environment, with its account.
    subgraphs = re.findall(r"subgraph env_(\w+)\[\"\1: account (\d{12}),", chart)
    assert [name for name, _ in subgraphs] == environments(project) == list(nat_gateways)
    for name, count in nat_gateways.items():
        body = chart.split(f'subgraph env_{name}["')[1].split("\n  end\n")[0]
        # NAT gateways: min(preset, zones), each in its own zone, each the tasks' egress (drawn
        # from the API, or from the worker of a service without one).
        assert body.count('_nat[["NAT gateway"]]') == count, name
        runner = "worker" if fixture == "medium_project" else "service"
        assert chart.count(f"env_{name}_{runner} -. egress .->") == count
        zones = 3 if (name == "prod" and fixture != "default_project") else 2
        assert len(re.findall(r"subgraph env_\w+_\w+_\d\w\[", body)) == zones
        assert body.count("_public[") == body.count("_private[") == zones
        assert body.count("_isolated[") == zones
        assert f"IAM role orders-api-{name}-github-deploy" in body
        assert (f"IAM role orders-api-{name}-github-diff" in body) is diff_role
    prod = chart.split('subgraph env_prod["')[1]
    assert ("Multi-AZ, isolated subnets" in prod) is multi_az
    assert ("Single-AZ, isolated subnets" in prod) is not multi_az
    if replicas:
        assert f"primary + {replicas} replica" in prod
    else:
        assert "one node, isolated subnets" in prod
    assert ('diff_workflow["diff.yml' in chart) is diff_role
    # Each service says what it runs on, and on Spot only outside production.
    architecture = "x86_64" if fixture == "medium_project" else "arm64"
    services = re.findall(
        r'env_(\w+)_(?:service|worker)\["(?:Worker: )?Fargate( Spot)? service.*?, (\w+)(?:, on the backlog)?"\]',
        chart,
    )
    # The medium render runs a worker alone; the large one an API and a worker.
    per_environment = 2 if fixture == "large_project" else 1
    assert [(name, bool(spot), arch) for name, spot, arch in services] == [
        (name, fixture == "large_project" and name != "prod", architecture)
        for name in nat_gateways
        for _ in range(per_environment)
    ]


# ---------------------------------------------------------------- the cost estimate


@pytest.mark.parametrize("fixture", ["default_project", "medium_project", "large_project"])
def test_cost_totals_add_up(fixture: str, request: pytest.FixtureRequest) -> None:
    project: Path = request.getfixturevalue(fixture)
    tables = costs(project)
    text = section(readme(project), "Monthly cost estimate")
    assert not UNRENDERED.search(text)
    names = environments(project)
    assert list(tables) == [*names, "All"]
    # The API's lines (load balancer, WAF, its tasks), the worker's (its tasks, SQS requests)
    # and the jobs' (their tasks, Scheduler invocations) where the render runs them; AWS
    # Backup where the database has a plan (the default's prod; every large environment, with
    # its compliance packs; none in the medium render).
    expected = {"default_project": 12, "medium_project": 10, "large_project": 16}[fixture]
    for name in names:
        lines = {k: v for k, v in tables[name].items() if k != "Total"}
        assert len(lines) == expected, name
        assert round(sum(lines.values()), 2) == tables[name]["Total"], name
        assert tables["All"][name] == tables[name]["Total"]
    assert round(sum(tables[name]["Total"] for name in names), 2) == tables["All"]["Total"]
    # The table ends in the grand total.
    assert GRAND_TOTAL_ROW.match(
        text.split("### All environments")[1].strip().split("\n\n")[0].splitlines()[-1]
    )


def test_costs_follow_sizing_and_environments(default_project: Path, large_project: Path) -> None:
    small, large = costs(default_project), costs(large_project)
    assert large["prod"]["Total"] > small["prod"]["Total"]
    for item in ("NAT gateways", "Fargate tasks", "PostgreSQL instance", "Redis nodes"):
        assert large["prod"][item] > small["prod"][item], item
    # Each extra environment adds its own lines: dev and staging are small, in the same region,
    # and run on Fargate Spot: only their Fargate line is below small production's. The large
    # render's worker and job add their own lines, and its ECS Exec a key.
    assert large["dev"] == large["staging"]
    spot, on_demand = large["dev"].pop("Fargate tasks"), dict(small["prod"])
    assert spot < on_demand.pop("Fargate tasks")
    assert large["dev"].pop("KMS keys") == on_demand.pop("KMS keys") + 1
    workloads = ("Worker tasks", "SQS requests", "Scheduled job tasks", "EventBridge Scheduler")
    assert {k: v for k, v in large["dev"].items() if k != "Total" and k not in workloads} == {
        k: v for k, v in on_demand.items() if k != "Total"
    }
    assert large["dev"]["Worker tasks"] < large["prod"]["Worker tasks"]
    assert large["All"]["Total"] == pytest.approx(
        large["prod"]["Total"] + 2 * large["staging"]["Total"], abs=0.01
    )


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [
        ("rate(1 hour)", 730),
        ("rate(15 minutes)", 2920),
        ("rate(2 days)", 15),
        ("cron(0 3 * * ? *)", 30),  # the default: daily
        ("cron(0/15 * * * ? *)", 2920),
        ("cron(30 8,17 * * ? *)", 61),
        ("cron(0 9 ? * MON-FRI *)", 22),
        ("cron(0 0 1 * ? *)", 1),
        ("cron(0 12 ? * 6#3 *)", 1),  # the third Friday
        ("cron(0 0 L * ? *)", 1),
        ("cron(0 0 ? JAN,JUL MON *)", 1),
    ],
)
def test_a_scheduled_job_is_priced_as_often_as_its_schedule_fires(schedule: str, runs: int) -> None:
    # Protects: the estimate bills the job's own schedule, not an assumed hourly run (a daily
    # job was priced 24 times over).
    assert round(float(extension("prices").job_runs_per_month(schedule))) == runs


def test_graviton_and_spot_cost_less(default_project: Path, medium_project: Path) -> None:
    # Protects: the estimate prices the processor and the capacity each environment runs on:
    # the same environments cost less on arm64 than on x86_64, and a Spot environment's
    # Fargate line less than on demand, in the reference region and in the example's.
    prices = extension("prices")
    for region in ("us-east-1", "ap-northeast-1", "eu-west-1"):
        for sizing in ("small", "large"):
            on_demand = {"name": "prod", "account": "1", "sizing": sizing, "spot": False}
            spot = {**on_demand, "name": "dev", "spot": True}
            by_choice = {}
            for architecture in ("arm64", "x86_64"):
                for env in (on_demand, spot):
                    lines = prices.environment_lines(env, region, 3, architecture).strip()
                    fargate = next(line for line in lines.split("\n") if "Fargate" in line)
                    total = sum(float(line.split("|")[2]) for line in lines.split("\n"))
                    by_choice[architecture, env["spot"]] = (float(fargate.split("|")[2]), total)
            where = (region, sizing)
            assert by_choice["arm64", False][1] < by_choice["x86_64", False][1], where
            for architecture in ("arm64", "x86_64"):
                assert by_choice[architecture, True][0] < by_choice[architecture, False][0], where
    # The renders say what they priced: arm64 in the example, x86_64 in the medium one.
    assert "Fargate at\narm64 (Graviton) prices." in readme(default_project)
    assert "Fargate at\nx86 prices." in readme(medium_project)


@pytest.mark.parametrize(
    ("fixture", "region"),
    [
        ("default_project", "ap-northeast-1"),
        ("medium_project", "us-east-1"),
        ("large_project", "ap-northeast-1"),
    ],
)
def test_database_line_doubles_with_multi_az(
    fixture: str, region: str, request: pytest.FixtureRequest
) -> None:
    project: Path = request.getfixturevalue(fixture)
    prices, presets = extension("prices"), extension("sizing").SIZING_PRESETS
    tables = costs(project)
    sizing = "small" if fixture == "default_project" else fixture.split("_")[0]
    preset = presets[sizing]
    hourly = float(prices.price(region, f"postgresql:db.{preset['database_instance_type']}"))
    single = round(HOURS * hourly, 2)
    copies = 2 if preset["database_multi_az"] else 1
    assert tables["prod"]["PostgreSQL instance"] == pytest.approx(copies * single, abs=0.01)
    storage = preset["database_allocated_storage_gib"] * float(
        prices.price(region, "rds_gp3_gb_month")
    )
    assert tables["prod"]["PostgreSQL storage"] == pytest.approx(copies * storage, abs=0.01)


def test_unconfirmed_prices_are_marked(
    copie_session: Any, default_project: Path, medium_project: Path
) -> None:
    # Protects: a line priced with the reference region's price says so, and only such a line.
    # ap-northeast-3 has its own NAT gateway, db.t4g.small and CloudWatch Logs prices, but no
    # confirmed load balancer, Fargate, gp3 storage or cache.t4g.micro price.
    osaka = section(
        readme(copied(copie_session, aws_region="ap-northeast-3")), "Monthly cost estimate"
    )
    marked = re.findall(r"^\| ([^|]+?) † \|", osaka, re.MULTILINE)
    assert marked == [
        "Application Load Balancer",
        "Fargate tasks",
        "PostgreSQL storage",
        "Redis nodes",
        "AWS Backup",
    ]
    assert "| PostgreSQL instance |" in osaka and "| CloudWatch Logs |" in osaka
    note = "† No price for `ap-northeast-3` was found for this line: the estimate uses us-east-1's."
    assert note in osaka
    assert "check that it is offered there before deploying" in osaka
    # Tokyo (the default) has every price confirmed but AWS Backup's (us-east-1's alone is);
    # us-east-1 (the reference region) has every price confirmed.
    for project, marks in ((default_project, ["AWS Backup"]), (medium_project, [])):
        text = section(readme(project), "Monthly cost estimate")
        assert re.findall(r"^\| ([^|]+?) † \|", text, re.MULTILINE) == marks
        assert "checked on 2" in text and "AWS's on-demand price lists" in text


def test_a_worker_alone_has_no_load_balancer_waf_or_their_addresses(
    medium_project: Path, large_project: Path
) -> None:
    # Protects: the estimate and the diagram of a service without an API show no load
    # balancer, WAF or load balancer addresses, and a worker's and a job's lines where they
    # run, priced from the sourced table.
    prices = extension("prices")
    worker = costs(medium_project)
    for name in ("dev", "prod"):
        assert "Application Load Balancer" not in worker[name]
        assert "AWS WAF" not in worker[name] and "Fargate tasks" not in worker[name]
        assert worker[name]["Worker tasks"] > 0 and worker[name]["SQS requests"] > 0
    # us-east-1: one address per NAT gateway (1 in small dev, 2 in medium prod).
    assert worker["prod"]["Public IPv4 addresses"] == pytest.approx(2 * HOURS * 0.005, abs=0.01)
    chart = mermaid(medium_project)
    assert "_waf[" not in chart and "_alb[" not in chart and "internet -->" not in chart
    assert "env_prod_queue -- receives --> env_prod_worker" in chart
    text = section(readme(medium_project), "Monthly cost estimate")
    assert "WAF" not in text.split("Assumed each month")[1].split("Not counted")[0]
    large = costs(large_project)
    sqs = float(prices.price("us-east-1", "sqs_million_requests"))
    assert sqs == 0.40
    assert large["prod"]["EventBridge Scheduler"] >= 0
    assert large["prod"]["Scheduled job tasks"] > 0
    large_chart = mermaid(large_project)
    assert "env_prod_service -- sends --> env_prod_queue" in large_chart
    assert "env_prod_scheduler -- runs --> env_prod_job" in large_chart
    # Tokyo has no SQS or Scheduler price of its own yet: those lines are marked.
    marked = re.findall(
        r"^\| ([^|]+?) † \|", section(readme(large_project), "Monthly cost estimate"), re.MULTILINE
    )
    assert {"SQS requests", "EventBridge Scheduler"} <= set(marked)
