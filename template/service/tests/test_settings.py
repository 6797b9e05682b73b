from __future__ import annotations

import pytest

from app.settings import Settings, SettingsError


def test_defaults(base_env: dict[str, str]) -> None:
    settings = Settings.from_env(base_env)
    assert settings.port == 8080
    assert settings.health_check_path == "/health"
    assert settings.service_name == "sample-service"
    assert settings.db_port == 5432
    assert settings.redis_port == 6379
    assert settings.redis_tls is True


def test_explicit_values(base_env: dict[str, str]) -> None:
    env = base_env | {
        "PORT": "9000",
        "HEALTH_CHECK_PATH": "/healthz",
        "SERVICE_NAME": "orders",
        "DB_PORT": "6543",
        "REDIS_PORT": "6380",
        "REDIS_TLS": "false",
    }
    settings = Settings.from_env(env)
    assert (settings.port, settings.health_check_path, settings.service_name) == (
        9000,
        "/healthz",
        "orders",
    )
    assert (settings.db_port, settings.redis_port, settings.redis_tls) == (6543, 6380, False)


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
        Settings.from_env({"PORT": "http"})
    message = str(info.value)
    for fragment in ("DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD", "REDIS_HOST", "PORT"):
        assert fragment in message


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


@pytest.mark.parametrize("raw", ["abc", "-1", "65536", "80.5"])
def test_invalid_port(base_env: dict[str, str], raw: str) -> None:
    base_env["PORT"] = raw
    with pytest.raises(SettingsError, match="PORT must be an integer"):
        Settings.from_env(base_env)


def test_health_check_path_must_be_absolute(base_env: dict[str, str]) -> None:
    base_env["HEALTH_CHECK_PATH"] = "health"
    with pytest.raises(SettingsError, match="HEALTH_CHECK_PATH must start with '/'"):
        Settings.from_env(base_env)


def test_redis_auth_token_is_optional(base_env: dict[str, str]) -> None:
    del base_env["REDIS_AUTH_TOKEN"]
    assert Settings.from_env(base_env).redis_auth_token == ""


def test_secrets_are_not_in_repr_or_errors(base_env: dict[str, str]) -> None:
    settings = Settings.from_env(base_env)
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
