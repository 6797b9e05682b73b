from __future__ import annotations

from pathlib import Path

import pytest

from app.migrate import database_url
from app.settings import MigrationSettings, Settings, SettingsError


def test_defaults(base_env: dict[str, str]) -> None:
    settings = Settings.from_env(base_env)
    assert settings.port == 8080
    assert settings.health_check_path == "/health"
    assert settings.readiness_path == "/ready"
    assert settings.service_name == "sample-service"
    assert settings.db_port == 5432
    assert settings.db_sslmode == "require"
    assert settings.redis_port == 6379
    assert settings.redis_tls is True
    assert settings.redis_ca_file is None
    assert settings.dependency_check_interval_seconds == 30


def test_explicit_values(base_env: dict[str, str], tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not parsed here")
    env = base_env | {
        "PORT": "9000",
        "HEALTH_CHECK_PATH": "/healthz",
        "READINESS_PATH": "/readyz",
        "SERVICE_NAME": "orders",
        "DB_PORT": "6543",
        "DB_SSLMODE": "verify-full",
        "DB_SSLROOTCERT": str(ca_file),
        "REDIS_PORT": "6380",
        "REDIS_TLS": "false",
        "REDIS_CA_FILE": str(ca_file),
        "DEPENDENCY_CHECK_INTERVAL_SECONDS": "0.5",
    }
    settings = Settings.from_env(env)
    assert (settings.port, settings.health_check_path, settings.readiness_path) == (
        9000,
        "/healthz",
        "/readyz",
    )
    assert settings.service_name == "orders"
    assert (settings.db_port, settings.db_sslmode) == (6543, "verify-full")
    assert (settings.redis_port, settings.redis_tls, settings.redis_ca_file) == (
        6380,
        False,
        str(ca_file),
    )
    assert settings.dependency_check_interval_seconds == 0.5


@pytest.mark.parametrize("name", ["DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD", "REDIS_HOST"])
def test_missing_required_variable_is_named(base_env: dict[str, str], name: str) -> None:
    del base_env[name]
    with pytest.raises(SettingsError, match=f"{name} is required"):
        Settings.from_env(base_env)


def test_blank_required_variable_counts_as_missing(base_env: dict[str, str]) -> None:
    base_env["DB_HOST"] = "   "
    with pytest.raises(SettingsError, match="DB_HOST is required"):
        Settings.from_env(base_env)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"PORT": "http", "DB_SSLMODE": "on"})
    message = str(info.value)
    for fragment in ("DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD", "REDIS_HOST", "PORT"):
        assert fragment in message
    assert "DB_SSLMODE" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True)]
    + [("false", False), ("False", False), ("0", False), ("no", False), ("", True)],
)
def test_redis_tls_parsing(base_env: dict[str, str], raw: str, expected: bool) -> None:
    base_env["REDIS_TLS"] = raw
    assert Settings.from_env(base_env).redis_tls is expected


def test_redis_tls_rejects_garbage(base_env: dict[str, str]) -> None:
    base_env["REDIS_TLS"] = "maybe"
    with pytest.raises(SettingsError, match="REDIS_TLS must be 'true' or 'false'"):
        Settings.from_env(base_env)


@pytest.mark.parametrize("name", ["PORT", "DB_PORT", "REDIS_PORT"])
@pytest.mark.parametrize("raw", ["abc", "-1", "65536", "80.5"])
def test_invalid_port(base_env: dict[str, str], name: str, raw: str) -> None:
    base_env[name] = raw
    with pytest.raises(SettingsError, match=f"{name} must be an integer"):
        Settings.from_env(base_env)


@pytest.mark.parametrize("name", ["HEALTH_CHECK_PATH", "READINESS_PATH"])
@pytest.mark.parametrize("raw", ["health", "/"])
def test_paths_must_be_absolute_and_not_the_root(
    base_env: dict[str, str], name: str, raw: str
) -> None:
    base_env[name] = raw
    with pytest.raises(SettingsError, match=f"{name} must start with '/'"):
        Settings.from_env(base_env)


def test_liveness_and_readiness_paths_differ(base_env: dict[str, str]) -> None:
    base_env |= {"HEALTH_CHECK_PATH": "/status", "READINESS_PATH": "/status"}
    with pytest.raises(SettingsError, match="READINESS_PATH must differ from HEALTH_CHECK_PATH"):
        Settings.from_env(base_env)


@pytest.mark.parametrize("mode", ["disable", "require", "verify-ca", "verify-full"])
def test_db_sslmode_accepts_libpq_modes(
    base_env: dict[str, str], mode: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("not parsed here")
    base_env |= {"DB_SSLMODE": mode, "DB_SSLROOTCERT": str(bundle)}
    assert Settings.from_env(base_env).db_sslmode == mode


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
def test_a_verifying_sslmode_needs_the_authorities(base_env: dict[str, str], mode: str) -> None:
    # Protects: a task configured to verify without a bundle fails at start-up, naming both
    # variables, instead of passing its health check while no connection can be made.
    base_env["DB_SSLMODE"] = mode
    base_env.pop("DB_SSLROOTCERT", None)
    with pytest.raises(SettingsError, match=f"DB_SSLMODE={mode} needs DB_SSLROOTCERT"):
        Settings.from_env(base_env)


def test_db_sslmode_rejects_unknown_modes(base_env: dict[str, str]) -> None:
    base_env["DB_SSLMODE"] = "true"
    with pytest.raises(SettingsError, match="DB_SSLMODE must be one of disable, allow"):
        Settings.from_env(base_env)


def test_db_sslrootcert_must_exist_and_reaches_libpq(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    base_env["DB_SSLROOTCERT"] = str(tmp_path / "missing.pem")
    with pytest.raises(SettingsError, match="DB_SSLROOTCERT must name a readable file"):
        Settings.from_env(base_env)
    bundle = tmp_path / "rds.pem"
    bundle.write_text("")
    base_env |= {"DB_SSLROOTCERT": str(bundle), "DB_SSLMODE": "verify-full"}
    assert Settings.from_env(base_env).db_sslrootcert == str(bundle)
    query = database_url(MigrationSettings.from_env(database_only(base_env))).query
    assert (query["sslmode"], query["sslrootcert"]) == ("verify-full", str(bundle))


def test_redis_ca_file_must_exist(base_env: dict[str, str], tmp_path: Path) -> None:
    base_env["REDIS_CA_FILE"] = str(tmp_path / "missing.pem")
    with pytest.raises(SettingsError, match="REDIS_CA_FILE must name a readable file"):
        Settings.from_env(base_env)


@pytest.mark.parametrize("raw", ["0", "-5", "soon", "nan", "inf"])
def test_check_interval_must_be_positive_seconds(base_env: dict[str, str], raw: str) -> None:
    base_env["DEPENDENCY_CHECK_INTERVAL_SECONDS"] = raw
    with pytest.raises(SettingsError, match="DEPENDENCY_CHECK_INTERVAL_SECONDS must be a number"):
        Settings.from_env(base_env)


def test_redis_auth_token_is_optional(base_env: dict[str, str]) -> None:
    del base_env["REDIS_AUTH_TOKEN"]
    settings = Settings.from_env(base_env)
    assert settings.redis_auth_token == ""
    assert settings.secrets == (base_env["DB_PASSWORD"],)


def test_secrets_are_not_in_repr_or_errors(base_env: dict[str, str]) -> None:
    settings = Settings.from_env(base_env)
    assert settings.secrets == (base_env["DB_PASSWORD"], base_env["REDIS_AUTH_TOKEN"])
    assert base_env["DB_PASSWORD"] not in repr(settings)
    assert base_env["REDIS_AUTH_TOKEN"] not in repr(settings)
    base_env["PORT"] = "bad"
    with pytest.raises(SettingsError) as info:
        Settings.from_env(base_env)
    assert base_env["DB_PASSWORD"] not in str(info.value)


def test_password_is_not_trimmed(base_env: dict[str, str]) -> None:
    base_env["DB_PASSWORD"] = " spaced "
    assert Settings.from_env(base_env).db_password == " spaced "


def test_settings_are_frozen(base_env: dict[str, str]) -> None:
    settings = Settings.from_env(base_env)
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_one_server_process_unless_told(base_env: dict[str, str]) -> None:
    assert Settings.from_env(base_env).workers == 1
    assert Settings.from_env(base_env | {"WEB_CONCURRENCY": "2"}).workers == 2


@pytest.mark.parametrize("raw", ["0", "17", "two", "1.5"])
def test_server_processes_are_a_small_positive_integer(base_env: dict[str, str], raw: str) -> None:
    base_env["WEB_CONCURRENCY"] = raw
    with pytest.raises(SettingsError, match="WEB_CONCURRENCY must be an integer from 1 to 16"):
        Settings.from_env(base_env)


# ---------------------------------------------------------------- python -m app.migrate


def database_only(base_env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in base_env.items() if k.startswith("DB_")}


def test_migrations_read_the_database_variables_and_nothing_of_redis(
    base_env: dict[str, str],
) -> None:
    settings = MigrationSettings.from_env(database_only(base_env) | {"DB_SSLMODE": "disable"})
    database = settings.database
    assert (database.host, database.port, database.name) == ("db.internal", 5432, "app")
    assert (database.username, database.sslmode) == ("app_user", "disable")
    assert settings.schema_owner is None
    assert (settings.lock_timeout_seconds, settings.statement_timeout_seconds) == (10, 300)
    assert settings.secrets == (base_env["DB_PASSWORD"],)
    assert base_env["DB_PASSWORD"] not in repr(settings)


def test_migration_owner_and_timeouts(base_env: dict[str, str]) -> None:
    settings = MigrationSettings.from_env(
        database_only(base_env)
        | {
            "DB_SCHEMA_OWNER": " app ",
            "MIGRATION_LOCK_TIMEOUT_SECONDS": "0.5",
            "MIGRATION_STATEMENT_TIMEOUT_SECONDS": "900",
        }
    )
    assert settings.schema_owner == "app"
    assert (settings.lock_timeout_seconds, settings.statement_timeout_seconds) == (0.5, 900)


@pytest.mark.parametrize(
    "name", ["MIGRATION_LOCK_TIMEOUT_SECONDS", "MIGRATION_STATEMENT_TIMEOUT_SECONDS"]
)
@pytest.mark.parametrize("raw", ["0", "-1", "soon", "86401"])
def test_migration_timeouts_are_bounded_seconds(
    base_env: dict[str, str], name: str, raw: str
) -> None:
    with pytest.raises(SettingsError, match=f"{name} must be a number of seconds above 0"):
        MigrationSettings.from_env(database_only(base_env) | {name: raw})


def test_migrations_report_every_missing_database_variable() -> None:
    with pytest.raises(SettingsError) as info:
        MigrationSettings.from_env({"DB_SSLMODE": "on"})
    for fragment in ("DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD", "DB_SSLMODE"):
        assert fragment in str(info.value)
    assert "REDIS" not in str(info.value)
