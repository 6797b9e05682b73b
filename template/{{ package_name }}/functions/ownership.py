"""What the master user owns in the application's database, and the statements that give it
to the application's user: the operator's ``transferOwnership`` step of the application's
rotation function (``rotate_database_password.py``).

A service whose tasks logged in as the master user (before the template's 1.0.0) created its
schema as that user, so the master user owns what its migrations made. Migrations now run as
``app`` (``SET ROLE``, README "Schema migrations"), and altering an object takes its owner:
the first migration that alters one of those fails. PostgreSQL records every owner in
``pg_shdepend``, so the list is whole: schemas (but ``public``, the database owner's), types
and domains, tables, views, materialized views, foreign tables, sequences, functions,
procedures, aggregates, operators, collations, text search configurations and dictionaries,
statistics objects, conversions and large objects. What follows its owner is left out
(indexes, a table's row type, array types, a serial or identity column's sequence, and from
PostgreSQL 17 a range's multirange), and so are an extension, what belongs to it, and the
default privileges the master user set. Kept, and said so: another kind (a publication, a
foreign server, an event trigger), and what lies in a schema ``app`` may not create in that
stays the master user's (one holding an extension).

Standard library only, like the other functions of this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:
    from .wire import quote_identifier, quote_literal
else:
    from wire import quote_identifier, quote_literal

# The command that changes the owner of each kind of object, as pg_identify_object names
# the kind. Another kind (a publication, a foreign server, an event trigger) is reported as
# kept, never guessed at.
ALTER_COMMANDS = {
    "schema": "ALTER SCHEMA",
    "type": "ALTER TYPE",  # domains too
    "table": "ALTER TABLE",
    "sequence": "ALTER SEQUENCE",
    "view": "ALTER VIEW",
    "materialized view": "ALTER MATERIALIZED VIEW",
    "foreign table": "ALTER FOREIGN TABLE",
    "function": "ALTER ROUTINE",
    "procedure": "ALTER ROUTINE",
    "aggregate": "ALTER AGGREGATE",
    "operator": "ALTER OPERATOR",
    "collation": "ALTER COLLATION",
    "text search configuration": "ALTER TEXT SEARCH CONFIGURATION",
    "text search dictionary": "ALTER TEXT SEARCH DICTIONARY",
    "statistics object": "ALTER STATISTICS",
    "conversion": "ALTER CONVERSION",
    "large object": "ALTER LARGE OBJECT",
}


def owned_objects_query(owner: str) -> str:
    """(kind, name, movable) of every object the current user owns in the current database,
    but what follows its owner or belongs to an extension; schemas first (an object's new
    owner needs CREATE on its schema). Names are quoted by the server, to be put in a
    statement as they are: pg_identify_object's identity, and an aggregate's own form
    (`name(args)` as ALTER AGGREGATE takes them, `ORDER BY` included, `*` for none).
    `movable` ('t' or 'f') says whether `owner` may have it: not in a schema it may not
    create in and that stays the current user's (one holding an extension)."""
    return f"""
SELECT o.type,
  CASE WHEN o.type = 'aggregate' THEN format('%I.%I(%s)', pn.nspname, p.proname,
      coalesce(nullif(pg_catalog.pg_get_function_identity_arguments(p.oid), ''), '*'))
    ELSE o.identity END,
  o.schema IS NULL
    OR pg_catalog.has_schema_privilege({quote_literal(owner)}, to_regnamespace(o.schema), 'CREATE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
      WHERE n.oid = to_regnamespace(o.schema) AND n.nspowner = current_user::regrole
        AND n.nspname <> 'public'
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extnamespace = n.oid))
FROM pg_catalog.pg_shdepend s
CROSS JOIN LATERAL pg_catalog.pg_identify_object(s.classid, s.objid, s.objsubid) o
LEFT JOIN pg_catalog.pg_class c ON s.classid = 'pg_catalog.pg_class'::regclass AND c.oid = s.objid
LEFT JOIN pg_catalog.pg_type t ON s.classid = 'pg_catalog.pg_type'::regclass AND t.oid = s.objid
LEFT JOIN pg_catalog.pg_proc p ON s.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = s.objid
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND s.refclassid = 'pg_catalog.pg_authid'::regclass
  AND s.refobjid = current_user::regrole AND s.deptype = 'o'
  -- an extension (it has no owner to change), its objects, and a schema holding one stay
  -- where the extension put them; default privileges are settings, not objects
  AND s.classid NOT IN ('pg_catalog.pg_extension'::regclass, 'pg_catalog.pg_default_acl'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = s.classid AND d.objid = s.objid AND d.deptype = 'e')
  AND NOT (o.type = 'schema' AND (o.identity = 'public' OR EXISTS (
    SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extnamespace = s.objid)))
  -- (c and t are NULL for other catalogs' objects: each test below is false for them)
  -- another session's temporary tables
  AND NOT coalesce(c.relpersistence = 't', false)
  -- a serial or identity column's sequence: its table's change of owner moves it
  AND NOT coalesce(c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')), false)
  -- from PostgreSQL 17 a multirange follows its range, and refuses a change of its own
  AND NOT coalesce(t.typtype = 'm' AND current_setting('server_version_num')::int >= 170000,
    false)
ORDER BY o.type <> 'schema', o.type, 2
"""


def membership_statement(owner: str, *, member: str) -> str:
    """Makes `member` (the master user) a member of `owner`: giving an object away takes
    being able to SET ROLE to its new owner, and from PostgreSQL 16 a role's creator holds
    only the ADMIN OPTION on it, which lets it grant itself the rest."""
    return f"GRANT {quote_identifier(owner)} TO {quote_identifier(member)}"


def transfer_statement(kind: str, name: str, *, to: str) -> str | None:
    """The statement that gives one (kind, name) of ``owned_objects_query`` to ``to``; None
    for a kind this step does not move."""
    command = ALTER_COMMANDS.get(kind)
    if command is None:
        return None
    return f"{command} {name} OWNER TO {quote_identifier(to)}"
