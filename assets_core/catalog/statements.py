"""The writes a run makes once per asset, compiled once and run on the driver's cursor.

A run records every step (a materialization row, the asset's state, a small value,
the end of its lease). Going through SQLAlchemy's statement execution for each of
those costs several times what the database itself spends, so on SQLite and
PostgreSQL these few statements are compiled by SQLAlchemy once per catalog and
then executed directly on the DB-API cursor of the run's connection, inside the
same transaction. Every other dialect takes the plain SQLAlchemy path.
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update

from assets_core.catalog import schema as t
from assets_core.catalog.state import PUBLISHING

if TYPE_CHECKING:
    from assets_core.catalog.catalog import Record

PUBLISH_COLS = (
    "materialization_id",
    "data_version",
    "code_version",
    "code_parts",
    "input_versions",
    "value_ref",
    "published_at",
    "last_status",
    "last_attempt_id",
    "last_attempt_at",
    "checks_version",
    "checks_parts",
    "checks_status",
)
ATTEMPT_COLS = ("last_status", "last_attempt_id", "last_attempt_at")
_TAKES_ID = ("materialization_id", "last_attempt_id")  # a state's columns naming its record
MATERIALIZATION_COLS = tuple(c.name for c in t.materializations.c if c.name != "id")


class _Compiled:
    """One statement as the driver's SQL text, with its parameters in driver order."""

    __slots__ = ("sql", "order", "args")

    def __init__(self, stmt: Any, dialect: Any, keys: Sequence[str] | None = None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.sql: str = compiled.string
        # positional paramstyles (SQLite's qmark) need a tuple in the statement's order
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positiontup else None
        )
        self.args: Callable[[Mapping[str, Any]], Any] = (
            dict if self.order is None else _getter(self.order)
        )

    def run(self, conn: Any, params: Mapping[str, Any]) -> Any:
        """Execute on the connection's own cursor (see :func:`_cursor`); returns it."""
        cur = _cursor(conn)
        cur.execute(self.sql, self.args(params))
        return cur

    def run_many(self, conn: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row, in one ``executemany`` on the connection's own cursor."""
        _cursor(conn).executemany(self.sql, list(map(self.args, rows)))


class Deferred:
    """Records held until their group commits (the ``later`` of :meth:`RecordStatements.
    insert_materialization` and the methods after it), then written in a few
    ``executemany`` calls inside the committing transaction.

    Each held record is its materialization row and the statements that go with it
    (its lease's end, its inline value, its asset's state). They are numbered when
    written, from the largest id in the table: a writing transaction on SQLite (BEGIN
    IMMEDIATE) excludes every other writer, so no one else takes an id meanwhile.
    The materialization rows go first (the others refer to them), then the rest, one
    ``executemany`` per statement unless an asset's state is set twice among them (then
    in the order they came). What commits is what writing them one by one would give.
    """

    __slots__ = ("records",)

    def __init__(self) -> None:
        # (materialization row, [(statement, params, params that take the row's id)])
        self.records: list[
            tuple[dict[str, Any], list[tuple[_Compiled, dict[str, Any], tuple[str, ...]]]]
        ] = []

    def __bool__(self) -> bool:
        return bool(self.records)

    def hold(self, values: Mapping[str, Any]) -> None:
        """Hold a record: its materialization row, numbered when written."""
        self.records.append((dict(values), []))

    def follow(
        self, stmt: _Compiled, params: dict[str, Any], takes_id: tuple[str, ...] = ()
    ) -> None:
        """Hold a statement of the record held last; ``takes_id``: the names in
        ``params`` set to that record's id when it is numbered."""
        self.records[-1][1].append((stmt, params, takes_id))

    def run(self, conn: Any, statements: RecordStatements) -> None:
        """Number and write what is held, on ``conn`` (in its writing transaction)."""
        cur = _cursor(conn)
        cur.execute("SELECT coalesce(max(id), 0) + 1 FROM materializations")
        next_id = int(cur.fetchone()[0])
        rows: list[dict[str, Any]] = []
        rest: list[tuple[_Compiled, dict[str, Any]]] = []
        for values, extras in self.records:
            values["id"] = next_id
            rows.append(values)
            for stmt, params, takes_id in extras:
                for name in takes_id:
                    params[name] = next_id
                rest.append((stmt, params))
            next_id += 1
        statements._mat_with_id.run_many(conn, rows)
        for stmt, batch in _batches(rest, statements.state_statements()):
            stmt.run_many(conn, batch)


def _batches(
    rest: list[tuple[_Compiled, dict[str, Any]]], states: tuple[_Compiled, ...]
) -> list[tuple[_Compiled, list[dict[str, Any]]]]:
    """``rest`` as (statement, rows) batches: one per statement, or consecutive runs when
    some asset's state is set twice (the order of those two must be kept)."""
    state_keys = [params["key"] for stmt, params in rest if stmt in states]
    if len(state_keys) == len(set(state_keys)):
        by_stmt: dict[_Compiled, list[dict[str, Any]]] = {}
        for stmt, params in rest:
            by_stmt.setdefault(stmt, []).append(params)
        return list(by_stmt.items())
    out: list[tuple[_Compiled, list[dict[str, Any]]]] = []
    for stmt, params in rest:
        if out and out[-1][0] is stmt:
            out[-1][1].append(params)
        else:
            out.append((stmt, [params]))
    return out


def _getter(order: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of ``order`` from a mapping, as a tuple, in C."""
    if len(order) == 1:
        return lambda params: (params[order[0]],)
    return operator.itemgetter(*order)


_CURSOR = "assets_core.record_cursor"


def _cursor(conn: Any) -> Any:
    """One driver cursor per database connection, kept in its SQLAlchemy ``info`` and
    reused by every record statement (a run writes four per asset): not one made and
    closed through the pool's wrapper each time. Never closed by its users."""
    dbapi = conn.connection.dbapi_connection
    got = conn.info.get(_CURSOR)
    if got is None or got[0] is not dbapi:
        got = conn.info[_CURSOR] = (dbapi, dbapi.cursor())
    return got[1]


_FAST = ("sqlite", "postgresql")  # the dialects whose driver is used directly
_MANY: dict[tuple[str, str], _Compiled] = {}


def execute_many(conn: Any, name: str, build: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run the statement ``build()`` (named ``name``) once per row of ``rows``.

    On SQLite and PostgreSQL it is compiled once per process and handed to the driver's
    ``executemany``: SQLAlchemy's processing of each row's parameters costs more than
    the database's work for a thousand rows of plain values (strings and numbers; no
    type needs converting). Other dialects take SQLAlchemy's path.
    """
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name not in _FAST:
        conn.execute(build(), list(rows))
        return
    compiled = _MANY.get((name, dialect.name))
    if compiled is None:
        compiled = _MANY[(name, dialect.name)] = _Compiled(build(), dialect, list(rows[0]))
    _cursor(conn).executemany(compiled.sql, list(map(compiled.args, rows)))


_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def rows_with(
    conn: Any, head: str, column: str, keys: Sequence[Any], chunk: int = 500
) -> list[Any]:
    """Rows of the plain SQL ``head`` (``SELECT ... FROM table``) whose ``column`` is in
    ``keys``, a chunk of keys per statement, bound by the driver (see :func:`execute_many`:
    SQLAlchemy renders an ``IN`` of hundreds of values at every execution)."""
    mark = _MARKS.get(conn.dialect.paramstyle) if conn.dialect.name in _FAST else None
    out: list[Any] = []
    if mark is None:
        from sqlalchemy import text

        q = text(f"{head} WHERE {column} IN :keys").bindparams(bindparam("keys", expanding=True))
        for i in range(0, len(keys), chunk):
            out.extend(conn.execute(q, {"keys": list(keys[i : i + chunk])}).all())
        return out
    cur = conn.connection.cursor()
    for i in range(0, len(keys), chunk):
        part = tuple(keys[i : i + chunk])
        cur.execute(f"{head} WHERE {column} IN ({', '.join([mark] * len(part))})", part)
        out.extend(cur.fetchall())
    cur.close()
    return out


def rows_keyed(conn: Any, sql: str, keys: Iterable[Any]) -> list[Any]:
    """The rows of the plain SQL ``sql`` (a whole table) whose first column is in
    ``keys``: for many keys of a table, one read is cheaper than binding them all."""
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        wanted = set(keys)
        return [r for r in cur.fetchall() if r[0] in wanted]
    finally:
        cur.close()


class RecordStatements:
    """``insert_materialization``, ``put_blob``, ``put_state``, ``settle``, ``release_lease``."""

    def __init__(self, dialect: Any) -> None:
        name = dialect.name
        self.fast = name in _FAST
        self.returning = name == "postgresql"
        # SQLite: a writing transaction (BEGIN IMMEDIATE) excludes every other writer, so
        # records may be held and numbered when their group commits (see Deferred)
        self.defers = name == "sqlite"
        self._dialect = dialect
        # each statement is compiled when first used: most runs never settle a
        # publication or record a failed attempt

    def _dinsert(self, table: Any) -> Any:
        if self._dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dinsert
        else:
            from sqlalchemy.dialects.postgresql import insert as dinsert
        return dinsert(table)

    @functools.cached_property
    def _mat(self) -> _Compiled:
        mat = insert(t.materializations)
        if self.returning:
            mat = mat.returning(t.materializations.c.id)
        return _Compiled(mat, self._dialect, MATERIALIZATION_COLS)

    @functools.cached_property
    def _mat_with_id(self) -> _Compiled:
        return _Compiled(insert(t.materializations), self._dialect, ("id", *MATERIALIZATION_COLS))

    @functools.cached_property
    def _blob(self) -> _Compiled:
        blob = self._dinsert(t.blobs).on_conflict_do_nothing(index_elements=["data_version"])
        return _Compiled(blob, self._dialect, ("data_version", "body"))

    def _state_upsert(self, cols: tuple[str, ...]) -> _Compiled:
        stmt = self._dinsert(t.asset_state)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"], set_={c: stmt.excluded[c] for c in cols}
        )
        return _Compiled(stmt, self._dialect, ("key", *cols))

    @functools.cached_property
    def _publish_state(self) -> _Compiled:
        return self._state_upsert(PUBLISH_COLS)

    @functools.cached_property
    def _attempt_state(self) -> _Compiled:
        return self._state_upsert(ATTEMPT_COLS)

    @functools.cached_property
    def _lease(self) -> _Compiled:
        lease = delete(t.leases).where(
            t.leases.c.key == bindparam("key"), t.leases.c.run_id == bindparam("run_id")
        )
        return _Compiled(lease, self._dialect)

    @functools.cached_property
    def _settle(self) -> _Compiled:
        m = t.materializations
        settle = (
            update(m)
            .where(m.c.id == bindparam("mid"))
            .values(status=bindparam("new_status"), error=bindparam("new_error"))
        )
        return _Compiled(settle, self._dialect)

    def write(
        self,
        conn: Any,
        rec: Record,
        values: Mapping[str, Any],
        leases: bool,
        later: Deferred | None = None,
    ) -> int | None:
        """The statements of ``Catalog.record``, run on ``conn`` or held in ``later``.

        ``values``: the materialization row; ``leases``: the run holds leases, and this
        record ends the asset's (unless the asset is attempted again or published later).
        """
        mid = self.insert_materialization(conn, values, later)
        if rec.status == "retried":  # one failed attempt of several: no state, lease kept
            return mid
        publishing = rec.status == PUBLISHING
        if leases and not publishing:  # the lease ends as the outcome shows
            self.release_lease(conn, rec.key, rec.run_id, later)
        if rec.status == "skipped":
            return mid
        if rec.inline is not None:
            self.put_blob(conn, rec.data_version, rec.inline, later)
        if rec.checks:
            from assets_core.catalog.checks import insert_results

            insert_results(
                conn,
                run_id=rec.run_id,
                key=rec.key,
                materialization_id=mid,
                data_version=rec.data_version,
                outcomes=rec.checks,
                versions=rec.checks_parts,
            )
        if not publishing:  # a publishing record flips the state when it is settled
            self.put_record_state(conn, mid, rec, values, later)
        return mid

    def put_record_state(
        self,
        conn: Any,
        mid: int | None,
        rec: Record,
        encoded: Mapping[str, Any],
        later: Deferred | None = None,
    ) -> None:
        """Flip ``rec.key``'s state to record ``mid`` (``encoded``: its JSON columns)."""
        now = rec.ended_at or time.time()
        if rec.status == "success":
            from assets_core.catalog.checks import checks_status

            params = {
                "materialization_id": mid,
                "data_version": rec.data_version,
                "code_version": rec.code_version,
                "code_parts": encoded["code_parts"],
                "input_versions": encoded["input_versions"],
                "value_ref": rec.value_ref,
                "published_at": now,
                "last_status": "success",
                "last_attempt_id": mid,
                "last_attempt_at": now,
                "checks_version": rec.checks_version,
                "checks_parts": encoded["checks_parts"],
                "checks_status": checks_status(rec.checks),
            }
        else:
            params = {"last_status": rec.status, "last_attempt_id": mid, "last_attempt_at": now}
        self.put_state(conn, rec.key, params, rec.status == "success", later)

    def state_statements(self) -> tuple[_Compiled, ...]:
        return (self._publish_state, self._attempt_state)

    def insert_materialization(
        self, conn: Any, values: Mapping[str, Any], later: Deferred | None = None
    ) -> int | None:
        """Insert a materialization row; its id.

        ``later`` (only where :attr:`defers`): the row is held in ``later`` with the
        statements of this record that follow (each method takes ``later``), and
        numbered when the group commits (see :class:`Deferred`): None is returned.
        """
        if later is not None:
            later.hold(values)
            return None
        if not self.fast:
            return conn.execute(insert(t.materializations), dict(values)).inserted_primary_key[0]
        cur = self._mat.run(conn, values)
        mid = cur.fetchone()[0] if self.returning else cur.lastrowid
        return int(mid)

    def put_blob(
        self, conn: Any, data_version: str | None, body: bytes, later: Deferred | None = None
    ) -> None:
        row = {"data_version": data_version, "body": body}
        if later is not None:
            later.follow(self._blob, row)
            return
        if self.fast:
            self._blob.run(conn, row)
            return
        have = select(t.blobs.c.data_version).where(t.blobs.c.data_version == data_version)
        if conn.execute(have).first() is None:
            conn.execute(insert(t.blobs), row)

    def put_state(
        self,
        conn: Any,
        key: str,
        values: Mapping[str, Any],
        published: bool,
        later: Deferred | None = None,
    ) -> None:
        """Set the ``PUBLISH_COLS`` (``published``) or ``ATTEMPT_COLS`` of ``key``'s state."""
        row = {"key": key, **values}
        if later is not None:  # the state points at the held record: its id is set then
            stmt = self._publish_state if published else self._attempt_state
            later.follow(stmt, row, _TAKES_ID if published else _TAKES_ID[1:])
            return
        if self.fast:
            (self._publish_state if published else self._attempt_state).run(conn, row)
            return
        cols = PUBLISH_COLS if published else ATTEMPT_COLS
        stmt = update(t.asset_state).where(t.asset_state.c.key == key)
        if conn.execute(stmt.values({c: values[c] for c in cols})).rowcount == 0:
            conn.execute(insert(t.asset_state), row)

    def settle(self, conn: Any, mid: int, status: str, error: str | None) -> None:
        """Set the status (and error) of materialization ``mid``."""
        params = {"mid": mid, "new_status": status, "new_error": error}
        if self.fast:
            self._settle.run(conn, params)
            return
        m = t.materializations
        conn.execute(update(m).where(m.c.id == mid).values(status=status, error=error))

    def release_lease(
        self, conn: Any, key: str, run_id: str, later: Deferred | None = None
    ) -> None:
        params = {"key": key, "run_id": run_id}
        if later is not None:
            later.follow(self._lease, params)
            return
        if self.fast:
            self._lease.run(conn, params)
            return
        conn.execute(t.leases.delete().where(t.leases.c.key == key, t.leases.c.run_id == run_id))
