"""Alembic's environment: runs the revisions of versions/ on a prepared connection.

`python -m app.migrate` hands over its connection (`config.attributes["connection"]`), already
prepared: the schema owner's role, the advisory lock, the timeouts (app/migrate.py). Alembic's
own command line (`alembic current`, `downgrade -1`) prepares one the same way from the same
`DB_*` variables, which `bash ../scripts/dev run alembic ...` sets for scripts/dev's database;
`upgrade <revision>:head --sql` prints SQL without connecting.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app import migrate
from app.logs import configure_logging
from app.settings import MigrationSettings, SettingsError

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        # Each revision in its own transaction (PostgreSQL's DDL is transactional): a failing
        # revision rolls back entirely, and the ones before it stay applied and recorded.
        transaction_per_migration=True,
        on_version_apply=config.attributes.get("on_version_apply", ()),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(dialect_name="postgresql", literal_binds=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    run_migrations(given)
else:
    configure_logging()
    try:
        settings = MigrationSettings.from_env()
    except SettingsError as exc:
        raise SystemExit(
            f"{exc}. Against scripts/dev's database: bash ../scripts/dev run alembic ..."
        ) from None
    with migrate.session(settings) as connection:
        run_migrations(connection)
