"""The sizing presets: the one table that decides how big each environment is.

Production uses the preset chosen when the repository was rendered; every other
environment uses ``small``. The template's documentation renders this table.
"""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """How much of everything one environment runs."""

    availability_zones: int
    nat_gateways: int
    database_instance_type: str
    database_allocated_storage_gib: int
    database_max_allocated_storage_gib: int
    database_multi_az: bool
    database_backup_retention_days: int
    cache_node_type: str
    cache_replicas: int
    task_cpu: int
    task_memory_mib: int
    task_min_count: int
    task_max_count: int

    @property
    def cache_failover(self) -> bool:
        """Automatic failover and Multi-AZ need at least one replica to promote."""
        return self.cache_replicas > 0


SIZING_PRESETS: dict[str, Sizing] = {
    "small": Sizing(
        availability_zones=2,
        nat_gateways=1,
        database_instance_type="t4g.small",
        database_allocated_storage_gib=20,
        database_max_allocated_storage_gib=100,
        database_multi_az=False,
        database_backup_retention_days=7,
        cache_node_type="cache.t4g.micro",
        cache_replicas=0,
        task_cpu=512,
        task_memory_mib=1024,
        task_min_count=1,
        task_max_count=2,
    ),
    "medium": Sizing(
        availability_zones=3,
        nat_gateways=2,
        database_instance_type="m7g.large",
        database_allocated_storage_gib=50,
        database_max_allocated_storage_gib=200,
        database_multi_az=True,
        database_backup_retention_days=14,
        cache_node_type="cache.m7g.large",
        cache_replicas=1,
        task_cpu=1024,
        task_memory_mib=2048,
        task_min_count=2,
        task_max_count=6,
    ),
    "large": Sizing(
        availability_zones=3,
        nat_gateways=3,
        database_instance_type="r7g.xlarge",
        database_allocated_storage_gib=100,
        database_max_allocated_storage_gib=500,
        database_multi_az=True,
        database_backup_retention_days=30,
        cache_node_type="cache.r7g.large",
        cache_replicas=2,
        task_cpu=2048,
        task_memory_mib=4096,
        task_min_count=3,
        task_max_count=12,
    ),
}
