"""What the master user owns in the application's database, and the statements that give it
to the application's user: the operator's ``transferOwnership`` step of the application's
rotation function (``rotate_database_password.py``).

A service whose tasks logged in as the master user (before the template's 1.0.0) created its
schema as that user, so the master user owns the tables its migrations made. Migrations now
run as ``app`` (``SET ROLE``, README "Schema migrations"), and altering a table takes its
owner: the first migration that alters one of those tables fails. The step moves what the
migrations made, in one transaction: schemas other than ``public`` (whose owner is the
database's), types and domains, tables, views, materialized views, sequences (those of a
column follow their table), functions and procedures. Nothing of an extension's, nor of the
system schemas.

Standard library only, like the other functions of this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:
    from .wire import quote_identifier
else:
    from wire import quote_identifier

# The SQL command that changes the owner of each kind of object the query below returns.
ALTER_COMMANDS = {
    "schema": "ALTER SCHEMA",
    "type": "ALTER TYPE",
    "domain": "ALTER DOMAIN",
    "table": "ALTER TABLE",
    "sequence": "ALTER SEQUENCE",
    "view": "ALTER VIEW",
    "materialized view": "ALTER MATERIALIZED VIEW",
    "foreign table": "ALTER FOREIGN TABLE",
    "routine": "ALTER ROUTINE",
}

# Not a migration's: PostgreSQL's own schemas (pg_catalog, pg_toast, each session's pg_temp)
# and the SQL standard's information_schema.
_USER_SCHEMA = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"


def _not_of_an_extension(catalog: str, alias: str) -> str:
    return (
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid ="
        f" 'pg_catalog.{catalog}'::regclass AND d.objid = {alias}.oid AND d.deptype = 'e')"
    )


# (kind, name) of every object the current user owns in the current database that a
# migration may have made, schemas first (a table's new owner needs CREATE on its schema),
# each name quoted by the server (format's %I), so that it can be put in a statement as is.
OWNED_OBJECTS_QUERY = f"""
SELECT kind, name FROM (
  SELECT 1 AS rank, 'schema' AS kind, format('%I', n.nspname) AS name
  FROM pg_catalog.pg_namespace n
  WHERE n.nspowner = current_user::regrole AND n.nspname <> 'public' AND {_USER_SCHEMA}
    AND {_not_of_an_extension("pg_namespace", "n")}
  UNION ALL
  SELECT 2, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END,
    format('%I.%I', n.nspname, t.typname)
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
  -- enums, domains, ranges and their multiranges, composite types of their own (a table's
  -- row type and every array type follow what they belong to)
  WHERE t.typowner = current_user::regrole AND t.typtype IN ('e', 'd', 'r', 'm', 'c')
    AND (t.typtype <> 'c' OR c.relkind = 'c') AND {_USER_SCHEMA}
    AND {_not_of_an_extension("pg_type", "t")}
  UNION ALL
  SELECT 3, CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
      WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
    format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relowner = current_user::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    AND {_USER_SCHEMA} AND {_not_of_an_extension("pg_class", "c")}
    -- a serial or identity column's sequence: its table's owner change moves it
    AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')))
  UNION ALL
  SELECT 4, 'routine',
    format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE p.proowner = current_user::regrole AND p.prokind IN ('f', 'p', 'a')
    AND {_USER_SCHEMA} AND {_not_of_an_extension("pg_proc", "p")}
) owned ORDER BY rank, name
"""


def transfer_statements(owned: list[tuple[str, str]], *, to: str) -> list[str]:
    """The statements that give each (kind, name) of ``OWNED_OBJECTS_QUERY`` to ``to``."""
    owner = quote_identifier(to)
    return [f"{ALTER_COMMANDS[kind]} {name} OWNER TO {owner}" for kind, name in owned]
