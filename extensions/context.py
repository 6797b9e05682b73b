"""Computed context: values derived from the answers, shared by every rendered file."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from copier_template_extensions import ContextHook

_ROOT = Path(__file__).resolve().parent.parent


@cache
def _load(relative_path: str) -> ModuleType:
    """Load a module of this template by path: copier does not put the template on sys.path."""
    path = _ROOT / relative_path
    spec = importlib.util.spec_from_file_location(f"_template_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def naming() -> ModuleType:
    return _load("extensions/naming.py")


def pins() -> ModuleType:
    return _load("extensions/pins.py")


def sizing() -> ModuleType:
    """The rendered package's sizing presets (plain Python, no CDK import)."""
    return _load("template/{{ package_name }}/sizing.py")


# (row label, how to show one preset's value), in the order the docs show them.
SIZING_ROWS: tuple[tuple[str, Any], ...] = (
    ("Availability zones", lambda s: str(s.availability_zones)),
    ("NAT gateways", lambda s: str(min(s.nat_gateways, s.availability_zones))),
    ("Database instance", lambda s: f"db.{s.database_instance_type}"),
    (
        "Database storage (GiB, autoscaling to)",
        lambda s: f"{s.database_allocated_storage_gib} → {s.database_max_allocated_storage_gib}",
    ),
    ("Database Multi-AZ", lambda s: "yes" if s.database_multi_az else "no"),
    ("Database backups (days)", lambda s: str(s.database_backup_retention_days)),
    ("Redis node", lambda s: s.cache_node_type),
    ("Redis replicas", lambda s: str(s.cache_replicas)),
    ("Redis failover and Multi-AZ", lambda s: "yes" if s.cache_failover else "no"),
    ("Task CPU / memory", lambda s: f"{s.task_cpu / 1024:g} vCPU / {s.task_memory_mib} MiB"),
    ("Tasks (autoscaling)", lambda s: f"{s.task_min_count} → {s.task_max_count}"),
)


def sizing_table() -> str:
    """The sizing presets as a Markdown table: one column per preset."""
    presets = sizing().SIZING_PRESETS
    lines = [
        "| | " + " | ".join(f"`{name}`" for name in presets) + " |",
        "| --- |" + " --- |" * len(presets),
    ]
    for label, show in SIZING_ROWS:
        lines.append(f"| {label} | " + " | ".join(show(p) for p in presets.values()) + " |")
    return "\n".join(lines)


def acknowledgements() -> ModuleType:
    """The rendered package's table of acknowledged findings (plain Python, no CDK import)."""
    return _load("template/{{ package_name }}/acknowledgements.py")


def environments(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The rendered environments in deploy order, each with its account and sizing."""
    chosen = answers.get("environments") or ["prod"]
    ordered = [name for name in naming().ENVIRONMENT_ORDER if name in chosen]
    return [
        {
            "name": name,
            "pascal": naming().pascal_case(name),
            "account": answers["aws_account_id"]
            if name == "prod"
            else answers.get(f"{name}_account_id") or answers["aws_account_id"],
            "sizing": answers["sizing"] if name == "prod" else "small",
        }
        for name in ordered
    ]


class ServiceContext(ContextHook):
    """Adds package_name, stack_prefix, availability_zones, deploy_environments and the
    pinned versions the workflows use (actions, uv_version, node_version) and the table of
    acknowledged findings the docs list."""

    def hook(self, context: dict[str, Any]) -> None:
        # Questions are rendered before every answer exists; compute only at render time.
        if context.get("_copier_phase") != "render":
            return
        names = naming()
        context["package_name"] = names.snake_case(context["service_name"])
        context["stack_prefix"] = names.pascal_case(context["service_name"])
        context["availability_zones"] = list(names.REGION_AVAILABILITY_ZONES[context["aws_region"]])
        context["deploy_environments"] = environments(context)
        context["actions"] = pins().action_pins()
        context["uv_version"] = pins().UV_VERSION
        context["node_version"] = pins().NODE_VERSION
        context["acknowledgements"] = acknowledgements().ACKNOWLEDGEMENTS
        context["acknowledgement_budget"] = acknowledgements().BUDGET
        context["sizing_table"] = sizing_table()
