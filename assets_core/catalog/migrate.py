"""Schema versions of the catalog, and upgrading them with Alembic.

A catalog's schema version is the Alembic revision in its ``alembic_version``
table. Revisions are numbered ``"0001"``, ``"0002"``, ...; the head is
``SCHEMA_VERSION`` in :mod:`assets_core.catalog.schema` (a test keeps the two
equal). Opening a catalog reads that one row and refuses any other version;
Alembic itself is imported only by :func:`upgrade` and :func:`pending`.

A new, empty database gets the whole schema at once (``create_all``) and is
stamped with the head revision; a test checks that the migrations build exactly
the same schema. Catalogs written before migrations existed carry
``meta.schema_version = 1`` instead and count as revision ``0001``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
    text,
)

from assets_core.catalog import schema as t
from assets_core.errors import CatalogError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# the table exactly as Alembic creates it
version_table = Table(
    VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)
# pg_advisory_xact_lock key serializing schema creation and upgrades on PostgreSQL
_PG_SCHEMA_LOCK = 0x61737365  # "asse"


def revision_id(version: int) -> str:
    return f"{version:04d}"


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """What a database holds: ``found`` (None when it is empty) and where it came from."""

    found: int | None
    stamped: bool  # recorded in alembic_version (False: legacy meta row, or empty)

    @property
    def current(self) -> bool:
        return self.found == t.SCHEMA_VERSION


def read_version(conn: Connection) -> SchemaVersion:
    """The schema version of the catalog behind ``conn``."""
    names = _table_names(conn)
    if VERSION_TABLE in names:
        # plain SQL: every command reads this row, and a compiled select costs more than it
        v = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
        return SchemaVersion(int(v) if v and v.isdigit() else -1, True)
    if "meta" in names:
        v = conn.execute(select(t.meta.c.value).where(t.meta.c.name == "schema_version")).scalar()
        return SchemaVersion(int(v) if v and v.isdigit() else -1, False)
    return SchemaVersion(None, False)


def _table_names(conn: Connection) -> set[str]:
    if conn.dialect.name == "sqlite":  # read at every open: skip the inspector's reflection
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}
    return set(inspect(conn).get_table_names())


def add_missing(conn: Connection, target: MetaData) -> None:
    """Create the tables, columns and indexes of ``target`` that the database lacks.

    For additive migrations of catalogs whose exact contents may vary: a column of a
    table that exists already is added when missing (new columns must be nullable).
    """
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    op = Operations(MigrationContext.configure(conn))
    insp = inspect(conn)
    have = set(insp.get_table_names())
    for table in target.sorted_tables:
        if table.name not in have:
            table.create(conn)
            continue
        cols = {c["name"] for c in insp.get_columns(table.name)}
        for col in table.columns:
            if col.name not in cols:
                op.add_column(table.name, Column(col.name, col.type, nullable=True))
        indexes = {i["name"] for i in insp.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(conn)


def lock_schema(conn: Connection) -> None:
    """Serialize schema changes between processes (SQLite: BEGIN IMMEDIATE does it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SCHEMA_LOCK})


def create_schema(conn: Connection) -> None:
    """The whole current schema in an empty database, stamped with the head revision."""
    # none of the catalog's tables there (the usual case): no existence check per table
    present = _table_names(conn) & {*t.metadata.tables, VERSION_TABLE}
    t.metadata.create_all(conn, checkfirst=bool(present))
    version_table.create(conn, checkfirst=True)
    conn.execute(version_table.insert().values(version_num=revision_id(t.SCHEMA_VERSION)))


def refuse(version: SchemaVersion, shown_url: str) -> None:
    """Raise a clear error unless ``version`` is the one this assets-core needs."""
    found, need = version.found, t.SCHEMA_VERSION
    if found == need:
        return
    if found is not None and 0 < found < need:
        raise CatalogError(
            f"catalog {shown_url} has schema version {found}; this assets-core needs "
            f"version {need}",
            hint="back the catalog up, then upgrade it with: assets catalog upgrade",
        )
    raise CatalogError(
        f"catalog {shown_url} has schema version {found}, which this assets-core does "
        f"not know (it knows versions 1 to {need}); a newer assets-core wrote it",
        hint="upgrade assets-core (pip install -U assets-core), or point the project at "
        "another catalog",
    )


def _config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def pending(version: SchemaVersion) -> list[tuple[str, str]]:
    """(revision, description) of every migration from ``version`` to the head, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS))
    base = revision_id(version.found) if version.found else None
    revs = list(scripts.iterate_revisions("heads", base))
    revs.reverse()
    return [(r.revision, (r.doc or "").strip().splitlines()[0]) for r in revs]


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def upgrade(writer: Engine, shown_url: str) -> tuple[int | None, int]:
    """Bring the catalog behind ``writer`` to the head revision; (version before, after).

    Runs in one transaction where the database allows (SQLite and PostgreSQL both
    have transactional DDL): an upgrade that fails leaves the catalog as it was.
    """
    from alembic import command

    with writer.begin() as conn:
        lock_schema(conn)
        before = read_version(conn)
        if before.found is None:
            create_schema(conn)
            return None, t.SCHEMA_VERSION
        if before.found < 1 or before.found > t.SCHEMA_VERSION:
            refuse(before, shown_url)
        cfg = _config(conn)
        if not before.stamped:
            command.stamp(cfg, revision_id(before.found))
        command.upgrade(cfg, "head")
        after = read_version(conn)
    return before.found, after.found or 0
