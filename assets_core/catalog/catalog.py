"""Reading and writing the catalog. Every write is one short transaction."""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from assets_core import collector
from assets_core.catalog import events as ev
from assets_core.catalog import migrate
from assets_core.catalog import observations as obs
from assets_core.catalog import schema as t
from assets_core.catalog.group_commit import GroupCommit
from assets_core.catalog.snapshot import (
    ANY_PUBLISHING_SQL,
    RUNNING_SQL,
    died_here,
    sqlite_file,
)
from assets_core.catalog.state import (
    PUBLISHING,
    STATE_COLUMNS,
    STATE_SQL,
    AssetState,
    CatalogState,
    fetch_state,
    state_from_rows,
    versions_json,
)
from assets_core.catalog.statements import RecordStatements, rows_keyed
from assets_core.errors import CatalogError

_READ_ALL_OVER = 200  # keys asked at once above which asset_states reads the whole table


@dataclass(frozen=True, kw_only=True)
class Record:
    """The outcome of one step of a run, written in one transaction.

    Not slotted: a run makes one per asset, in one step (``assets_core/frozen.py``).
    """

    run_id: str
    key: str
    status: str  # success | failed | skipped | quarantined | retried | publishing
    reason: str | None = None
    code_version: str | None = None
    code_parts: Mapping[str, Any] | str | None = None  # or already as JSON
    input_versions: Mapping[str, str] | None = None
    data_version: str | None = None
    value_ref: str | None = None
    inline: bytes | None = None  # the value itself, for small values kept in the catalog
    started_at: float | None = None
    ended_at: float | None = None
    rows: int | None = None
    columns: list[tuple[str, str]] | None = None
    error: str | None = None
    checks: Sequence[Any] = ()  # CheckOutcome values, written in the same transaction
    checks_version: str | None = None
    checks_parts: Mapping[str, Any] | None = None


def safe_url(url: str) -> str:
    """``url`` with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid catalog URL>"


def _state_json(rec: Record) -> dict[str, str | None]:
    """The JSON columns a record shares with the asset's state."""
    dumps = json.dumps
    return {
        "code_parts": rec.code_parts
        if isinstance(rec.code_parts, str) or rec.code_parts is None
        else dumps(rec.code_parts),
        "input_versions": versions_json(rec.input_versions)
        if rec.input_versions is not None
        else None,
        "checks_parts": dumps(rec.checks_parts) if rec.checks_parts is not None else None,
    }


def _url(url: str) -> URL:
    """``make_url(url)``; a plain SQLite file URL (every default catalog) is built without
    parsing, which would compile SQLAlchemy's URL pattern in every command."""
    path = sqlite_file(url)
    return URL.create("sqlite", database=path) if path is not None else make_url(url)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # the driver's own transaction handling would BEGIN (deferred) only before a write;
    # _sqlite_begin takes over so that a write transaction holds the write lock from
    # its start (see Catalog.writer)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE: a transaction that reads and then writes can otherwise fail with
    # "database is locked" when another process committed in between, whatever the
    # busy timeout; readers keep a plain (deferred) BEGIN and a consistent snapshot
    write = conn.get_execution_options().get("assets_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Catalog(GroupCommit):
    """A connection to the catalog database."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        # every transaction that writes begins through ``writer`` (BEGIN IMMEDIATE on SQLite)
        self.writer = engine.execution_options(assets_write=True)
        self.url = url
        self._record_statements: RecordStatements | None = None
        self._group = None  # see GroupCommit
        self.leases_in_use = False  # set by catalog.leases.Leases

    def _statements(self) -> RecordStatements:
        # compiled on first write: a plan or a status only reads
        if self._record_statements is None:
            self._record_statements = RecordStatements(self.engine.dialect)
        return self._record_statements

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str, *, mark_interrupted: bool = True, check_schema: bool = True) -> Catalog:
        """Open (and, when the database is empty, create) the catalog at ``url``.

        A catalog of another schema version is refused (``check_schema=False`` skips
        that, for ``assets catalog upgrade``).
        """
        try:
            u = _url(url)
        except ArgumentError as e:
            raise CatalogError(
                f"invalid catalog URL {safe_url(url)!r}: {e}",
                hint="use a SQLAlchemy URL, e.g. sqlite:///.assets/catalog.db",
            ) from None
        kwargs: dict[str, Any] = {}
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            # the group-commit timer commits from its own thread, under the group's lock
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        try:
            engine = create_engine(u, **kwargs)
        except (NoSuchModuleError, ImportError) as e:
            raise CatalogError(
                f"cannot open catalog {safe_url(url)}: {e}",
                hint="install the database driver, e.g. pip install 'psycopg[binary]'",
            ) from None
        if u.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        cat = cls(engine, url)
        version = cat._ensure_schema()
        if check_schema and not version.current:
            migrate.refuse(version, safe_url(url))
        elif not version.current:
            return cat
        if mark_interrupted:
            cat.mark_interrupted()
        return cat

    def close(self) -> None:
        self.engine.dispose()

    def _ensure_schema(self) -> migrate.SchemaVersion:
        """The schema version found; an empty database gets the current schema first."""
        try:
            with self.engine.connect() as conn:
                version = migrate.read_version(conn)
            if version.found is None:
                with self.writer.begin() as conn:
                    # another process may be creating it right now: lock, then look again
                    migrate.lock_schema(conn)
                    version = migrate.read_version(conn)
                    if version.found is None:
                        migrate.create_schema(conn)
                        version = migrate.SchemaVersion(t.SCHEMA_VERSION, True)
        except (OperationalError, ProgrammingError) as e:
            raise CatalogError(
                f"cannot open catalog {safe_url(self.url)}: {e.orig}",
                hint="check the URL in [tool.assets] catalog or ASSETS_CATALOG_URL",
            ) from None
        return version

    def upgrade(self) -> tuple[int | None, int]:
        """Migrate the catalog to this assets-core's schema version: (before, after)."""
        before, after = migrate.upgrade(self.writer, safe_url(self.url))
        return before, after

    # -- reading ------------------------------------------------------------------------
    @staticmethod
    def _state_query() -> Any:
        a = t.asset_state.c
        return select(*(a[c] for c in STATE_COLUMNS))

    def state(self) -> CatalogState:
        """Everything the planner needs, in one query per table."""
        with collector.paused(), self.engine.connect() as conn:  # many rows, none garbage
            if self.engine.dialect.name not in ("sqlite", "postgresql"):
                rows = conn.execute(self._state_query()).all()
                srcs = conn.execute(select(t.source_state.c.key, t.source_state.c.version)).all()
                return state_from_rows(rows, srcs)
            # read by every plan: plain SQL on the driver's cursor, nothing to compile
            cur = conn.connection.cursor()
            sqlite = self.engine.dialect.name == "sqlite"
            if sqlite:  # autocommit otherwise: both reads from one snapshot
                cur.execute("BEGIN")
            got = fetch_state(cur)
            if sqlite:
                cur.execute("COMMIT")
            cur.close()
            return got

    def asset_states(self, keys: Iterable[str]) -> dict[str, AssetState]:
        """The current state of ``keys`` (those the catalog knows), in few queries."""
        ks = list(keys)
        out: dict[str, AssetState] = {}
        with self.engine.connect() as conn:
            if len(ks) > _READ_ALL_OVER and conn.dialect.name in ("sqlite", "postgresql"):
                # many keys (a run's every step): one plain read of the table, as state()
                return {r[0]: AssetState._make(r) for r in rows_keyed(conn, STATE_SQL, ks)}
            for i in range(0, len(ks), 500):
                q = self._state_query().where(t.asset_state.c.key.in_(ks[i : i + 500]))
                out.update((r[0], AssetState._make(r)) for r in conn.execute(q))
        return out

    def put_blob(self, data_version: str, body: bytes) -> None:
        """Keep a small value in the catalog, unpublished (from a worker, before its record)."""
        with self.writer.begin() as conn:
            self._statements().put_blob(conn, data_version, body)

    def record_event(
        self, kind: str, key: str | None, payload: Any = None, run_id: str | None = None
    ) -> int:
        """Append an event (a freshness state change, a quarantine release, ...)."""
        return ev.record_event(self.writer, kind, key, payload, run_id=run_id)

    def events(self, **where: Any) -> list[ev.Event]:
        """Events, oldest first; see :func:`assets_core.catalog.events.read_events`."""
        return ev.read_events(self.engine, **where)

    def record_observations(
        self, versions: Iterable[tuple[str, str]], run_id: str | None = None
    ) -> list[str]:
        """Record source versions seen now; return the sources whose version changed."""
        return obs.record_observations(self.writer, versions, run_id=run_id)

    def source_states(self) -> dict[str, obs.SourceState]:
        return obs.source_states(self.engine)

    def blob(self, data_version: str) -> bytes | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.blobs.c.body).where(t.blobs.c.data_version == data_version)
            ).scalar()

    def published_columns(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """Column names of the published version of each of ``keys`` (frames and tables)."""
        wanted = list(keys)
        if not wanted:
            return {}
        m, a = t.materializations.c, t.asset_state.c
        q = (
            select(a.key, m.columns)
            .join(t.materializations, m.id == a.materialization_id)
            .where(a.key.in_(wanted))
        )
        with self.engine.connect() as conn:
            return {k: [c[0] for c in json.loads(cols)] for k, cols in conn.execute(q) if cols}

    def blobs(self, data_versions: Iterable[str]) -> dict[str, bytes]:
        """Many inline values in one query (an asset reading hundreds of upstreams)."""
        dvs = list(data_versions)
        out: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(dvs), 500):
                q = select(t.blobs.c.data_version, t.blobs.c.body).where(
                    t.blobs.c.data_version.in_(dvs[i : i + 500])
                )
                out.update({dv: body for dv, body in conn.execute(q)})
        return out

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
            ).mappings()
            return [dict(r) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
            return dict(r) if r else None

    def history(self, key: str, limit: int = 20) -> list[dict[str, Any]]:
        m = t.materializations
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m).where(m.c.key == key).order_by(m.c.id.desc()).limit(limit)
            ).mappings()
            return [dict(r) for r in rows]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        m = t.materializations
        with self.engine.connect() as conn:
            rows = conn.execute(select(m).where(m.c.run_id == run_id).order_by(m.c.id)).mappings()
            return [dict(r) for r in rows]

    def value_refs(self) -> tuple[set[str], dict[str, list[str]]]:
        """(refs published now, refs per key newest first) for garbage collection."""
        m = t.materializations
        with self.engine.connect() as conn:
            published = {
                r for (r,) in conn.execute(select(t.asset_state.c.value_ref)) if r is not None
            }
            per_key: dict[str, list[str]] = {}
            for key, ref in conn.execute(
                select(m.c.key, m.c.value_ref)
                .where(m.c.status == "success")
                .order_by(m.c.key, m.c.id.desc())
            ):
                if ref is not None and ref not in per_key.setdefault(key, []):
                    per_key[key].append(ref)
        return published, per_key

    def delete_blobs(self, data_versions: Iterable[str]) -> None:
        dvs = list(data_versions)
        if dvs:
            with self.writer.begin() as conn:
                conn.execute(t.blobs.delete().where(t.blobs.c.data_version.in_(dvs)))

    # -- writing ------------------------------------------------------------------------
    def start_run(
        self,
        *,
        command: str,
        selection: str,
        planned: int,
        definitions: Mapping[str, Any],
    ) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]
        body = json.dumps(definitions, sort_keys=True, separators=(",", ":"))
        from assets_core.code_version import digest

        defs_hash = digest(body)
        now = time.time()
        with self.writer.begin() as conn:
            exists = conn.execute(
                select(t.definition_sets.c.hash).where(t.definition_sets.c.hash == defs_hash)
            ).first()
            if exists is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(t.definition_sets).values(
                                hash=defs_hash, created_at=now, body=body
                            )
                        )
                except IntegrityError:  # another run stored the same set at the same moment
                    pass
            conn.execute(
                insert(t.runs).values(
                    id=run_id,
                    status="running",
                    command=command,
                    selection=selection,
                    started_at=now,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    user=_os_user(),
                    definitions=defs_hash,
                    planned=planned,
                )
            )
        return run_id

    def record(self, rec: Record) -> int | None:
        """Write one step outcome; a success also publishes it (flips asset_state).

        Returns the record's id; None when a group commit holds it to write it at its
        commit (see :mod:`~assets_core.catalog.group_commit`). A record whose id is
        needed (its check results refer to it; a publication is settled by it) is
        written now.
        """
        dumps = json.dumps
        values = {
            "run_id": rec.run_id,
            "key": rec.key,
            "status": rec.status,
            "reason": rec.reason,
            "code_version": rec.code_version,
            **_state_json(rec),
            "data_version": rec.data_version,
            "value_ref": rec.value_ref,
            "started_at": rec.started_at,
            "ended_at": rec.ended_at,
            "duration_s": (rec.ended_at - rec.started_at)
            if rec.started_at is not None and rec.ended_at is not None
            else None,
            "rows": rec.rows,
            "columns": dumps(rec.columns) if rec.columns is not None else None,
            "error": rec.error,
            "checks_version": rec.checks_version,
        }
        if not rec.checks and rec.status != PUBLISHING:
            with self._holding() as later:
                if later is not None:
                    return self._statements().write(None, rec, values, self.leases_in_use, later)
        with self._transaction() as conn:
            return self._statements().write(conn, rec, values, self.leases_in_use)

    # -- two-system publication: a table is committed in its engine between two records ----
    def settle_publication(
        self,
        mid: int,
        rec: Record,
        *,
        published: bool,
        error: str | None = None,
        state: bool = True,
    ) -> None:
        """Settle the ``publishing`` record ``mid`` (written by :meth:`record`).

        A value published outside the catalog (a table, committed by its engine) is
        recorded first as ``publishing``, then committed by the engine, then settled
        here: ``published`` flips the asset's state to it; otherwise the record
        becomes ``failed`` with ``error``. ``state=False`` leaves the asset's state
        alone (a later version was published since). A crash between leaves the record
        ``publishing``; the next command that opens the catalog with the project
        settles it from what the engine holds (see ``sql.table_store.settle_interrupted``).
        """
        status = "success" if published else "failed"
        done = replace(rec, status=status, error=error if not published else rec.error)
        with self._transaction() as conn:
            self._statements().settle(conn, mid, status, done.error)
            if self.leases_in_use:
                self._statements().release_lease(conn, rec.key, rec.run_id)
            if state:
                self._statements().put_record_state(conn, mid, done, _state_json(rec))

    def publishing_somewhere(self) -> bool:
        """Is a value being published outside the catalog (by a run or a release), or was
        it when its process died? One cheap query, made by every command that opens it."""
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(ANY_PUBLISHING_SQL).first() is not None

    def unsettled_publications(self) -> list[tuple[Record, int, int | None]]:
        """``publishing`` records whose run is over: (record, its id, the id published now).

        Callers ask :meth:`publishing_somewhere` first (one cheap query at every open).
        """
        m, r, s = t.materializations, t.runs, t.asset_state
        stmt = (
            select(m, s.c.materialization_id.label("published_id"))
            .join(r, r.c.id == m.c.run_id)
            .outerjoin(s, s.c.key == m.c.key)
            .where(m.c.status == PUBLISHING, r.c.status != "running")
            .order_by(m.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        if not rows:
            return []
        from assets_core.catalog.checks import recorded_outcomes

        loads = json.loads
        out = []
        for row in rows:
            rec = Record(
                run_id=row["run_id"],
                key=row["key"],
                status=PUBLISHING,
                reason=row["reason"],
                code_version=row["code_version"],
                code_parts=loads(row["code_parts"]) if row["code_parts"] else None,
                input_versions=loads(row["input_versions"]) if row["input_versions"] else None,
                data_version=row["data_version"],
                value_ref=row["value_ref"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                checks=recorded_outcomes(self, row["id"]),
                checks_version=row["checks_version"],
                checks_parts=loads(row["checks_parts"]) if row["checks_parts"] else None,
            )
            out.append((rec, row["id"], row["published_id"]))
        return out

    def finish_run(self, run_id: str, status: str, counts: Mapping[str, int]) -> None:
        with self.writer.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(status=status, ended_at=time.time(), **counts)
            )
            conn.execute(t.leases.delete().where(t.leases.c.run_id == run_id))

    def mark_interrupted(self) -> list[str]:
        """Mark runs whose process died (on this host) as ``interrupted``."""
        with self.engine.connect() as conn:  # at every open: plain SQL, nothing to compile
            running = conn.exec_driver_sql(RUNNING_SQL).all()
        dead = [rid for rid, pid, host, started in running if died_here(host, pid, started)]
        if dead:
            with self.writer.begin() as conn:
                for rid in dead:
                    conn.execute(
                        update(t.runs)
                        .where(t.runs.c.id == rid, t.runs.c.status == "running")
                        .values(status="interrupted", ended_at=time.time(), **_counts(conn, rid))
                    )
                    conn.execute(t.leases.delete().where(t.leases.c.run_id == rid))
        return dead

    def recount(self, run_id: str) -> None:
        """Count a finished run's steps again (its records were settled after it ended)."""
        with self.writer.begin() as conn:
            conn.execute(
                update(t.runs).where(t.runs.c.id == run_id).values(**_counts(conn, run_id))
            )


def _counts(conn: Any, run_id: str) -> dict[str, int]:
    """materialized / skipped / failed of a run, from its records."""
    m = t.materializations
    rows = conn.execute(
        select(m.c.status, func.count()).where(m.c.run_id == run_id).group_by(m.c.status)
    ).all()
    counts = dict(rows)
    return {
        "materialized": counts.get("success", 0),
        "skipped": counts.get("skipped", 0),
        "failed": counts.get("failed", 0),
    }


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"
