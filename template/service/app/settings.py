"""Configuration read once from environment variables into an immutable object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class SettingsError(ValueError):
    """Raised when the environment does not describe a usable configuration."""


@dataclass(frozen=True, slots=True)
class Settings:
    service_name: str
    port: int
    health_check_path: str
    db_host: str
    db_port: int
    db_name: str
    db_username: str
    # repr=False: secrets must never end up in logs or tracebacks via repr().
    db_password: str = field(repr=False)
    redis_host: str
    redis_port: int
    redis_auth_token: str = field(repr=False)
    redis_tls: bool

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

        def port(name: str, default: str | None = None) -> int:
            raw = optional(name, default) if default is not None else required(name)
            if not raw:
                return 0  # already reported as missing
            try:
                value = int(raw)
            except ValueError:
                value = -1
            # 0 means "any free port"; only useful for tests, harmless elsewhere.
            if not 0 <= value <= 65535:
                errors.append(f"{name} must be an integer between 0 and 65535, got {raw!r}")
            return value

        def boolean(name: str, default: str) -> bool:
            raw = optional(name, default).lower()
            if raw in _TRUE:
                return True
            if raw not in _FALSE:
                errors.append(f"{name} must be 'true' or 'false', got {raw!r}")
            return False

        health_check_path = optional("HEALTH_CHECK_PATH", "/health")
        if not health_check_path.startswith("/"):
            errors.append(f"HEALTH_CHECK_PATH must start with '/', got {health_check_path!r}")

        settings = cls(
            service_name=optional("SERVICE_NAME", "sample-service"),
            port=port("PORT", "8080"),
            health_check_path=health_check_path,
            db_host=required("DB_HOST"),
            db_port=port("DB_PORT", "5432"),
            db_name=required("DB_NAME"),
            db_username=required("DB_USERNAME"),
            db_password=required("DB_PASSWORD", secret=True),
            redis_host=required("REDIS_HOST"),
            redis_port=port("REDIS_PORT", "6379"),
            # Optional so a local Redis without AUTH works; ElastiCache with
            # in-transit encryption and an auth token needs it set.
            redis_auth_token=env.get("REDIS_AUTH_TOKEN", ""),
            redis_tls=boolean("REDIS_TLS", "true"),
        )
        if errors:
            raise SettingsError("invalid configuration: " + "; ".join(errors))
        return settings
