"""The sizing presets: the one table that decides how big each environment is, how it
deploys, and where its alarms fire.

Production uses the preset chosen when the repository was rendered; every other
environment uses ``small``. The template's documentation renders this table.
"""

from dataclasses import dataclass
from typing import Literal

GIB = 1024**3
# RDS for PostgreSQL's default max_connections: LEAST(DBInstanceClassMemory / 9531392, 5000),
# where DBInstanceClassMemory is a little less than the class's memory.
POSTGRES_BYTES_PER_CONNECTION = 9531392
POSTGRES_MAX_CONNECTIONS = 5000


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    """Where each alarm fires, derived from a preset (``Sizing.alarms``)."""

    database_cpu_percent: int
    database_free_memory_bytes: int
    database_connections: int
    database_free_storage_bytes: int
    cache_cpu_percent: int
    cache_memory_percent: int
    cache_evictions: int
    cache_replication_lag_seconds: int
    service_5xx_percent: int
    service_latency_p99_seconds: float
    # The worker's queue: a message waiting this long, or any message dead-lettered.
    queue_oldest_message_seconds: int
    queue_dead_letters: int


@dataclass(frozen=True)
class Rolling:
    """New tasks replace the old ones in place, each taking traffic once healthy."""


@dataclass(frozen=True, kw_only=True)
class Shifted:
    """A full new set of tasks behind a second target group gets the traffic in steps: one
    step of ``step_percent`` (canary) or steps of that size (linear), each watched for
    ``step_bake_minutes``; the old tasks are kept ``bake_minutes`` after the last."""

    kind: Literal["canary", "linear"]
    step_percent: float
    step_bake_minutes: int
    bake_minutes: int


Deployment = Rolling | Shifted


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
    # The worker's tasks (same CPU and memory as the API's), scaled on its queue's backlog,
    # and how many times a message is received before the queue gives it up to its
    # dead-letter queue.
    worker_min_count: int
    worker_max_count: int
    queue_max_receive_count: int
    # The memory of database_instance_type: the free-memory and connections alarms follow it.
    database_memory_gib: int
    # How a new release reaches production traffic: "rolling" replaces tasks in place;
    # "canary" and "linear" start a full new set of tasks behind a second target group and
    # shift traffic to it (one step of deployment_step_percent, or steps of that size), each
    # step watched for deployment_step_bake_minutes, then the old tasks are kept for
    # deployment_bake_minutes. The deployment alarms roll back any of them.
    deployment_strategy: Literal["rolling", "canary", "linear"]
    deployment_step_percent: float | None
    deployment_step_bake_minutes: int | None
    deployment_bake_minutes: int | None

    @property
    def cache_failover(self) -> bool:
        """Automatic failover and Multi-AZ need at least one replica to promote."""
        return self.cache_replicas > 0

    @property
    def shifts_traffic(self) -> bool:
        """Whether a release runs beside the old one and gets production traffic in steps."""
        return self.deployment_strategy != "rolling"

    @property
    def deployment(self) -> Deployment:
        """How a release reaches traffic, as one value: rolling, or shifted in steps."""
        if self.deployment_strategy == "rolling":
            return Rolling()
        if (
            self.deployment_step_percent is None
            or self.deployment_step_bake_minutes is None
            or self.deployment_bake_minutes is None
        ):
            raise ValueError(f"a {self.deployment_strategy} deployment needs its steps and bake")
        return Shifted(
            kind=self.deployment_strategy,
            step_percent=self.deployment_step_percent,
            step_bake_minutes=self.deployment_step_bake_minutes,
            bake_minutes=self.deployment_bake_minutes,
        )

    @property
    def alarms(self) -> AlarmThresholds:
        """Where the alarms fire: what measures capacity (database memory, connections and
        storage) follows the preset; what users feel (errors, latency) is the same for all."""
        memory = self.database_memory_gib * GIB
        max_connections = min(memory // POSTGRES_BYTES_PER_CONNECTION, POSTGRES_MAX_CONNECTIONS)
        return AlarmThresholds(
            database_cpu_percent=80,
            # Below a tenth of its memory the database starts to swap.
            database_free_memory_bytes=memory // 10,
            database_connections=int(max_connections * 0.8),
            # A tenth of the allocated storage: autoscaling is about to be the only defence.
            database_free_storage_bytes=self.database_allocated_storage_gib * GIB // 10,
            cache_cpu_percent=80,
            cache_memory_percent=80,
            # Any key evicted in five minutes: sessions and job queues must not disappear.
            cache_evictions=1,
            cache_replication_lag_seconds=30,
            service_5xx_percent=5,
            service_latency_p99_seconds=1.5,
            # What users of the worker feel: a message waiting a quarter of an hour means the
            # worker is down, stuck or far behind, whatever the preset.
            queue_oldest_message_seconds=15 * 60,
            # Every dead letter is a message that failed queue_max_receive_count times.
            queue_dead_letters=1,
        )


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
        worker_min_count=1,
        worker_max_count=2,
        queue_max_receive_count=5,
        database_memory_gib=2,
        deployment_strategy="rolling",
        deployment_step_percent=None,
        deployment_step_bake_minutes=None,
        deployment_bake_minutes=None,
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
        worker_min_count=1,
        worker_max_count=6,
        queue_max_receive_count=5,
        database_memory_gib=8,
        deployment_strategy="canary",
        deployment_step_percent=10.0,
        deployment_step_bake_minutes=10,
        deployment_bake_minutes=10,
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
        worker_min_count=2,
        worker_max_count=12,
        queue_max_receive_count=5,
        database_memory_gib=32,
        deployment_strategy="linear",
        deployment_step_percent=25.0,
        deployment_step_bake_minutes=5,
        deployment_bake_minutes=15,
    ),
}
