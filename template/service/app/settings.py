"""Configuration read once from environment variables into an immutable object."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
# libpq's sslmode values. RDS accepts TLS by default; verify-full also needs the RDS CA
# bundle (point PGSSLROOTCERT at it), so the default only requires encryption.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Fargate's largest task has 16 vCPU; more processes than cores only adds connections.
MAX_WORKERS = 16


class SettingsError(ValueError):
    """Raised when the environment does not describe a usable configuration."""


@dataclass(frozen=True, slots=True)
class Settings:
    service_name: str
    port: int
    # Liveness: what the load balancer checks. Readiness: the dependencies.
    health_check_path: str
    readiness_path: str
    db_host: str
    db_port: int
    db_name: str
    db_username: str
    # repr=False: secrets must never end up in logs or tracebacks via repr().
    db_password: str = field(repr=False)
    db_sslmode: str
    redis_host: str
    redis_port: int
    redis_auth_token: str = field(repr=False)
    redis_tls: bool
    # None: verify the Redis certificate against the system CAs (right for ElastiCache).
    redis_ca_file: str | None
    dependency_check_interval_seconds: float
    # Server processes: one per vCPU of the task (WEB_CONCURRENCY, uvicorn's own variable).
    # One Python process serves on one core, so a task of 2 vCPU needs 2 to use them.
    workers: int = 1

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a log line or a response."""
        return tuple(value for value in (self.db_password, self.redis_auth_token) if value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse settings; report every missing or invalid variable in one error."""
        env = os.environ if environ is None else environ
        errors: list[str] = []

        def required(name: str, *, secret: bool = False) -> str:
            raw = env.get(name, "")
            # Blank counts as missing (an unset CDK/ECS value often renders as "").
            if not raw.strip():
                errors.append(f"{name} is required")
            # Secrets are used byte-for-byte; only plain values are trimmed.
            return raw if secret else raw.strip()

        def optional(name: str, default: str) -> str:
            value = env.get(name, "").strip()
            return value or default

        def integer(name: str, default: str, low: int, high: int) -> int:
            raw = optional(name, default)
            try:
                value = int(raw)
            except ValueError:
                value = low - 1
            if not low <= value <= high:
                errors.append(f"{name} must be an integer from {low} to {high}, got {raw!r}")
            return value

        def port(name: str, default: str) -> int:
            # 0 means "any free port"; only useful for tests, harmless elsewhere.
            return integer(name, default, 0, 65535)

        def boolean(name: str, default: str) -> bool:
            raw = optional(name, default).lower()
            if raw in _TRUE:
                return True
            if raw not in _FALSE:
                errors.append(f"{name} must be 'true' or 'false', got {raw!r}")
            return False

        def path(name: str, default: str) -> str:
            value = optional(name, default)
            if not value.startswith("/") or value == "/":
                errors.append(f"{name} must start with '/' and not be '/' alone, got {value!r}")
            return value

        def seconds(name: str, default: str) -> float:
            raw = optional(name, default)
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                errors.append(f"{name} must be a number of seconds above 0, got {raw!r}")
            return value

        health_check_path = path("HEALTH_CHECK_PATH", "/health")
        readiness_path = path("READINESS_PATH", "/ready")
        if health_check_path == readiness_path:
            errors.append(f"READINESS_PATH must differ from HEALTH_CHECK_PATH ({readiness_path!r})")

        db_sslmode = optional("DB_SSLMODE", "require")
        if db_sslmode not in SSL_MODES:
            errors.append(f"DB_SSLMODE must be one of {', '.join(SSL_MODES)}, got {db_sslmode!r}")

        redis_ca_file = optional("REDIS_CA_FILE", "") or None
        if redis_ca_file is not None and not os.path.isfile(redis_ca_file):
            errors.append(f"REDIS_CA_FILE must name a readable file, got {redis_ca_file!r}")

        settings = cls(
            service_name=optional("SERVICE_NAME", "sample-service"),
            port=port("PORT", "8080"),
            health_check_path=health_check_path,
            readiness_path=readiness_path,
            db_host=required("DB_HOST"),
            db_port=port("DB_PORT", "5432"),
            db_name=required("DB_NAME"),
            db_username=required("DB_USERNAME"),
            db_password=required("DB_PASSWORD", secret=True),
            db_sslmode=db_sslmode,
            redis_host=required("REDIS_HOST"),
            redis_port=port("REDIS_PORT", "6379"),
            # Optional so a local Redis without AUTH works; ElastiCache with
            # in-transit encryption and an auth token needs it set.
            redis_auth_token=env.get("REDIS_AUTH_TOKEN", ""),
            redis_tls=boolean("REDIS_TLS", "true"),
            redis_ca_file=redis_ca_file,
            dependency_check_interval_seconds=seconds("DEPENDENCY_CHECK_INTERVAL_SECONDS", "30"),
            workers=integer("WEB_CONCURRENCY", "1", 1, MAX_WORKERS),
        )
        if errors:
            raise SettingsError("invalid configuration: " + "; ".join(errors))
        return settings
