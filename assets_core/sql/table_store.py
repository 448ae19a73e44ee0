"""Table stores: SQL assets (and Python assets with ``io=``) kept as database tables.

Write, audit, publish for tables:

1. **stage**: the query (or the DataFrame) is written to ``<table>__staging`` in
   its own transaction, and its data version is computed in the database (row
   count, sum of row hashes: the same content gives the same version in any
   order);
2. **audit**: the asset's checks run on the staging table, compiled to SQL where
   the rule allows (:mod:`assets_core.sql.checks`);
3. **publish**: one transaction drops the published table and renames the
   staging table in its place, so readers see the old table or the new one,
   never a mix. A version that fails a blocking check is not published: the
   staging table stays as the quarantined version.

An asset without checks has nothing to audit: its new table replaces the
published one inside the transaction that wrote it (``CREATE OR REPLACE TABLE
... AS``), left open until its record is written. On an engine that shares that
transaction among tables (DuckDB), the tables written while nothing else is ready
are described together afterwards (:meth:`TableStores.describe_written`): one
batch of statements instead of a few per table.

Publication spans two databases, so the executor records the version as
``publishing`` before the engine commits, and settles the record after; a run
that died in between is settled by :func:`settle_interrupted` from what the
engine holds.

A table's value reference is ``table:<engine>:<schema>.<table>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from assets_core.errors import StoreError
from assets_core.sql.engines import Engine, EngineError, Reads, engine_specs, open_engine
from assets_core.stores import Staged

if TYPE_CHECKING:
    from assets_core.project import Project
    from assets_core.stores import FileStore

REF_PREFIX = "table:"
STAGING_SUFFIX = "__staging"


def table_ref(engine: str, schema: str | None, table: str) -> str:
    return f"{REF_PREFIX}{engine}:{schema or ''}.{table}"


def parse_ref(ref: str) -> tuple[str, str | None, str]:
    """``table:duckdb:bi.roas`` -> ("duckdb", "bi", "roas")."""
    engine, _, name = ref[len(REF_PREFIX) :].partition(":")
    schema, _, table = name.partition(".")
    return engine, schema or None, table


def is_table_ref(ref: str | None) -> bool:
    return ref is not None and ref.startswith(REF_PREFIX)


@dataclass(slots=True)
class StagedTable:
    """A new version of a table, written but not yet published."""

    key: str
    engine: Engine
    schema: str | None
    table: str  # where the new version is now: the staging table, or the target (direct)
    target: str
    direct: bool  # written over the target inside a transaction that is still open
    staged: Staged | None  # None until described (TableStores.describe_written)
    value: TableValue = field(repr=False)
    grouped: bool = False  # direct, in the engine's shared transaction (see TableStores)
    redo: Callable[[], StagedTable] | None = field(default=None, repr=False)  # write it alone
    lost: bool = False  # grouped, rolled back before it was recorded: to be written again

    @property
    def qualified(self) -> str:
        return self.engine.qualify(self.schema, self.table)


# direct writes on an engine that shares transactions (DuckDB) commit together, at most
# this many or this long after the first: one commit per group instead of one per table
GROUP_LIMIT = 256
GROUP_WINDOW_S = 0.25


@dataclass(slots=True)
class _Pending:
    st: StagedTable
    mid: int  # its publishing record
    rec: Any  # the Record, to settle it


class TableValue:
    """A table as checks see it: built-in rules run as SQL, custom checks get helpers.

    ``to_pandas()`` / ``to_polars()`` read it into a DataFrame; ``query(sql)`` runs
    a SELECT in which ``{table}`` stands for the table's quoted name.
    """

    def __init__(
        self, stores: TableStores, key: str, engine: Engine, schema: str | None, table: str
    ):
        self._stores = stores
        self.key = key
        self.engine = engine
        self.schema = schema
        self.table = table

    @property
    def qualified(self) -> str:
        return self.engine.qualify(self.schema, self.table)

    def __repr__(self) -> str:
        return f"<table {self.qualified} on {self.engine.name} ({self.key})>"

    def to_pandas(self) -> Any:
        return self.engine.read_frame(self.qualified, "pandas")

    def to_polars(self) -> Any:
        return self.engine.read_frame(self.qualified, "polars")

    def query(self, sql: str) -> list[Any]:
        return self.engine.run(sql.replace("{table}", self.qualified))

    def run_builtin_check(self, spec: Any, load: Any) -> Any:
        """Run a built-in check (``assets_core.checks``) on this table; see sql/checks.py."""
        from assets_core.sql.checks import run_on_table

        return run_on_table(self, spec, load, self._stores)


class TableStores:
    """The engines and table stores of one run: opened on first use, closed at the end."""

    def __init__(self, project: Project, file_store: FileStore | None, catalog: Any = None) -> None:
        self.project = project
        self.file_store = file_store
        self.catalog = catalog  # a run's catalog: direct writes may then share transactions
        self._groups: dict[str, list[_Pending]] = {}
        # grouped tables written in the engine's open transaction but not recorded yet:
        # the group must not commit before they are (records are durable first)
        self._written: dict[str, list[StagedTable]] = {}
        self._group_opened: dict[str, float] = {}
        self.specs = engine_specs(project.root, project.config.raw)
        self._engines: dict[str, Engine] = {}
        self.prepared: dict[tuple[str, str], str] = {}  # (engine, key) -> version made readable

    def engine(self, name: str) -> Engine:
        got = self._engines.get(name)
        if got is None:
            spec = self.specs.get(name)
            if spec is None:
                raise StoreError(
                    f"engine {name!r} is not configured",
                    hint="add it to [tool.assets.engines] in pyproject.toml",
                )
            got = self._engines[name] = open_engine(spec)
        return got

    def close(self) -> None:
        for e in self._engines.values():
            if e.in_transaction:
                e.rollback()
            e.close()
        self._engines.clear()

    # -- staging -------------------------------------------------------------------------
    def stage_query(
        self,
        d: Any,
        refs: dict[str, str],
        current: dict[str, str],
        *,
        direct: bool,
        describe: bool = True,
    ) -> StagedTable:
        """Run SQL asset ``d`` into its staging table (or, ``direct``, its target).

        A direct write on an engine that shares transactions (DuckDB) joins the open
        group of writes, committed together by :meth:`commit_group`. Such a write may
        leave its description for later (``describe=False``: ``staged`` stays None
        until :meth:`describe_written` describes it with the others written meanwhile).
        """
        from assets_core.sql.materialize import prepare_upstreams, render

        engine = self.engine(d.engine)

        def write(grouped: bool, describe: bool = True) -> StagedTable:
            with _naming(d.key, engine, "preparing its upstreams"):
                prepare_upstreams(self, engine, d, refs, current)
            sql = render(engine, d)
            tables = tuple(engine.qualify(*engine.physical(u)) for u in d.ins.values())

            def create(q: str, s: str | None, t: str) -> None:
                engine.create_table_as(q, sql, Reads(tables, d.sources))

            return self._stage(
                d.key, engine, direct, create, sql, grouped=grouped, describe=describe
            )

        if not (direct and self.catalog is not None and engine.shares_transactions):
            self.commit_group(engine)  # what is not grouped starts from committed tables
            return write(False)
        try:
            st = write(True, describe)
        except EngineError:  # the engine aborted the whole shared transaction
            self._recover(engine)
            return write(False)  # alone, so that its own error (if any) is what it reports
        st.redo = lambda: write(False)
        return st

    def can_defer(self, d: Any, refs: dict[str, str]) -> bool:
        """May SQL asset ``d`` (without checks) be written with ``describe=False``?
        Only into a shared transaction, and only when preparing its upstreams commits
        nothing (reading a table of another engine commits that engine's group)."""
        if self.catalog is None or not self.engine(d.engine).shares_transactions:
            return False
        return all(
            not is_table_ref(refs.get(u)) or parse_ref(refs[u])[0] == d.engine
            for u in d.ins.values()
        )

    def stage_frame(self, key: str, engine_name: str, frame: Any, *, direct: bool) -> StagedTable:
        """Write a Python asset's DataFrame into its staging table (``io=``)."""
        if type(frame).__name__ != "DataFrame":
            raise StoreError(
                f"asset {key} has io= a table store, but returned a {type(frame).__name__}",
                hint="return a pandas or polars DataFrame, or drop io=",
            )
        engine = self.engine(engine_name)
        self.commit_group(engine)
        return self._stage(
            key, engine, direct, lambda q, s, t: engine.write_frame(q, s, t, frame), None
        )

    def _stage(
        self,
        key: str,
        engine: Engine,
        direct: bool,
        write: Any,
        sql: str | None,
        *,
        grouped: bool = False,
        describe: bool = True,
    ) -> StagedTable:
        schema, target = engine.physical(key)
        table = target if direct else target + STAGING_SUFFIX
        qualified = engine.qualify(schema, table)
        value = TableValue(self, key, engine, schema, table)
        with _naming(key, engine, "running its query" if sql else "writing its table", sql):
            engine.ensure_schema(schema)
            if grouped:  # inside the shared transaction; _recover undoes a failure
                if not engine.in_transaction:
                    engine.begin()
                    self._group_opened[engine.name] = time.monotonic()
                write(qualified, schema, table)
                if not describe:
                    st = StagedTable(key, engine, schema, table, target, direct, None, value, True)
                    self._written.setdefault(engine.name, []).append(st)
                    return st
                dv, rows, columns = engine.data_version(qualified, schema, table)
            else:
                # the new table and its data version in one transaction; a direct write
                # (nothing to audit) keeps it open: publish() commits it once it is recorded
                engine.begin()
                try:
                    write(qualified, schema, table)
                    dv, rows, columns = engine.data_version(qualified, schema, table)
                    if not direct:
                        engine.commit()
                except BaseException:
                    if engine.in_transaction:
                        engine.rollback()
                    raise
        staged = Staged(dv, table_ref(engine.name, schema, table), None, rows, columns)
        st = StagedTable(key, engine, schema, table, target, direct, staged, value, grouped)
        if grouped:
            self._written.setdefault(engine.name, []).append(st)
        return st

    def describe_written(self) -> None:
        """Describe the grouped tables written with ``describe=False``, each engine's
        together (one batch of statements instead of a few per table). When the engine
        fails, the shared transaction is recovered (:meth:`_recover`) and these tables
        are marked ``lost``: each is then written again alone, and reports its own error."""
        for written in list(self._written.values()):
            todo = [st for st in written if st.staged is None]
            if not todo:
                continue
            e = todo[0].engine
            try:
                got = e.data_versions([(st.schema, st.table) for st in todo])
            except EngineError:
                self._recover(e)
                continue
            for st, (dv, rows, columns) in zip(todo, got, strict=True):
                ref = table_ref(e.name, st.schema, st.table)
                st.staged = Staged(dv, ref, None, rows, columns)

    # -- publishing ------------------------------------------------------------------------
    def final(self, st: StagedTable) -> Staged:
        """What ``st`` will be once published: its reference names the target table."""
        assert st.staged is not None
        return replace(st.staged, ref=table_ref(st.engine.name, st.schema, st.target))

    def publish(self, st: StagedTable) -> None:
        """Make ``st`` the published table, atomically, in its engine.

        The executor calls this between the ``publishing`` record and its settlement
        (see ``Catalog.settle_publication``), so that a crash in between can be settled
        from what the engine holds.
        """
        e = st.engine
        with _naming(st.key, e, "publishing its table"):
            if st.direct:  # written over the target in a transaction still open
                e.commit()
                return
            with e.transaction():
                e.drop(e.qualify(st.schema, st.target))
                e.rename(st.schema, st.table, st.target)

    def discard(self, st: StagedTable) -> None:
        """Undo an unpublished direct write (its record could not be written)."""
        if st.grouped and not st.lost:
            if not any(p.st is st for p in self._groups.get(st.engine.name, ())):
                self._recover(st.engine)  # the others of its group are written again
        elif st.direct and st.engine.in_transaction:
            st.engine.rollback()

    # -- writes sharing one engine transaction ------------------------------------------------
    def enqueue(self, st: StagedTable, mid: int, rec: Any) -> None:
        """Publish grouped ``st`` (recorded as ``publishing``, id ``mid``) with its group."""
        group = self._groups.setdefault(st.engine.name, [])
        group.append(_Pending(st, mid, rec))
        written = [w for w in self._written.get(st.engine.name, ()) if w is not st]
        self._written[st.engine.name] = written
        if written:  # others written in the transaction are not recorded yet
            return
        opened = self._group_opened.get(st.engine.name, 0.0)
        if len(group) >= GROUP_LIMIT or time.monotonic() - opened >= GROUP_WINDOW_S:
            self.commit_group(st.engine)

    def commit_group(self, engine: Engine | None = None) -> None:
        """Commit the shared transaction of ``engine`` (of every engine: None), then
        settle its records: recorded (durable) first, committed, settled."""
        for e in [engine] if engine is not None else list(self._engines.values()):
            group = self._groups.pop(e.name, [])
            if not group and not (e.in_transaction and e.name in self._group_opened):
                continue
            self._group_opened.pop(e.name, None)
            assert self.catalog is not None
            if self._written.get(e.name):  # the scheduler records them first
                raise StoreError(
                    f"engine {e.name}: tables written but not recorded cannot be committed"
                )
            self.catalog.commit_pending()  # the records are durable before the tables
            try:
                with _naming(group[0].st.key if group else "?", e, "publishing its table"):
                    e.commit()
            except EngineError as err:
                for p in group:
                    self.catalog.settle_publication(
                        p.mid, p.rec, published=False, error=err.render()
                    )
                raise
            for p in group:
                self.catalog.settle_publication(p.mid, p.rec, published=True)

    def _recover(self, engine: Engine) -> None:
        """After the engine aborted the shared transaction: roll it back, then write each
        recorded member of the group again alone, publishing it when it gives the data
        version it was recorded with (a query whose result changes, e.g. one reading
        ``now()``, fails instead of publishing other data than its record describes)."""
        assert self.catalog is not None
        group = self._groups.pop(engine.name, [])
        self._group_opened.pop(engine.name, None)
        for st in self._written.pop(engine.name, []):
            st.lost = True  # not recorded: its step writes it again (see describe_written)
        engine.rollback()
        engine.forget_session()  # schemas and views created inside it are gone
        self.prepared = {k: v for k, v in self.prepared.items() if k[0] != engine.name}
        self.catalog.commit_pending()
        for p in group:
            try:
                assert p.st.redo is not None
                again = p.st.redo()
            except EngineError as err:
                error = err.render()
            else:
                error = (
                    None
                    if again.staged.data_version == p.rec.data_version
                    else "written again after another asset's failure, it gave different data"
                )
            if error is not None:
                if engine.in_transaction:
                    engine.rollback()
                self.catalog.settle_publication(p.mid, p.rec, published=False, error=error)
                continue
            engine.commit()
            self.catalog.settle_publication(p.mid, p.rec, published=True)

    def quarantine(self, st: StagedTable) -> Staged:
        """Keep ``st`` aside unpublished (its staging table), the published table untouched."""
        if st.direct:  # cannot happen: assets with checks are staged apart
            raise StoreError(f"asset {st.key}: a version without checks cannot be quarantined")
        return st.staged

    def publish_ref(self, key: str, ref: str, data_version: str) -> str:
        """Publish a quarantined staging table (``quarantine release``); returns the new ref."""
        engine_name, schema, table = parse_ref(ref)
        e = self.engine(engine_name)
        _, target = e.physical(key)
        if table == target:
            return ref
        gone = StoreError(
            f"the quarantined table of {key} ({e.qualify(schema, table)}) is no longer "
            f"version {data_version[:12]}",
            hint=f"a later attempt replaced it; rematerialize: assets materialize {key}",
        )
        if not e.table_exists(schema, table):
            raise gone
        with _naming(key, e, "publishing its quarantined table"), e.transaction():
            if e.data_version(e.qualify(schema, table), schema, table)[0] != data_version:
                raise gone
            e.drop(e.qualify(schema, target))
            e.rename(schema, table, target)
        return table_ref(e.name, schema, target)

    # -- reading ---------------------------------------------------------------------------
    def value(self, key: str, ref: str) -> TableValue:
        engine_name, schema, table = parse_ref(ref)
        return TableValue(self, key, self.engine(engine_name), schema, table)

    def load(self, key: str, ref: str, kind: str = "pandas") -> Any:
        """The table behind ``ref`` as a DataFrame (what a Python asset reading it receives)."""
        v = self.value(key, ref)
        # Python code reads committed tables only: what it derives is never published
        # from a table whose own publication could still be rolled back
        self.commit_group(v.engine)
        with _naming(key, v.engine, "reading its table"):
            return v.engine.read_frame(v.qualified, kind)


class _naming:
    """Turn an engine's error into one that names the asset, the engine and the step."""

    def __init__(self, key: str, engine: Engine, doing: str, sql: str | None = None) -> None:
        self.key, self.engine, self.doing, self.sql = key, engine, doing, sql

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, EngineError) and not getattr(exc, "named", False):
            sent = f"\n  SQL sent:\n{_indent(self.sql)}" if self.sql else ""
            err = EngineError(
                f"asset {self.key} failed on engine {self.engine.name} while {self.doing}: "
                f"{exc.message}{sent}",
                hint=exc.hint or "fix the query (or the data it reads) and materialize again",
            )
            err.named = True  # type: ignore[attr-defined]
            raise err from None
        return False


def _indent(sql: str | None, limit: int = 2000) -> str:
    text = (sql or "").strip()
    if len(text) > limit:
        text = text[:limit] + " ..."
    return "\n".join("    " + line for line in text.splitlines())


def release_table(project: Project, key: str, ref: str, data_version: str) -> str:
    """Swap the quarantined table ``ref`` of ``key`` in; returns its published ref."""
    stores = TableStores(project, None)
    try:
        return stores.publish_ref(key, ref, data_version)
    finally:
        stores.close()


def drop_table(project: Project, ref: str) -> None:
    """Drop the (discarded, quarantined) table behind ``ref``."""
    engine_name, schema, table = parse_ref(ref)
    stores = TableStores(project, None)
    try:
        e = stores.engine(engine_name)
        e.drop(e.qualify(schema, table))
    finally:
        stores.close()


def settle_interrupted(
    project: Project, catalog: Any, pending: list[tuple[Any, int, int | None]]
) -> list[tuple[str, bool]]:
    """Settle ``pending`` (``catalog.unsettled_publications()``), the ``publishing``
    records of runs that died: [(key, published?)].

    A table is committed in its engine between its ``publishing`` record and that
    record's settlement. When the run died in between, the engine tells which side of
    the commit it was on: the target table holds the recorded data version (the
    record is settled as published, unless a later version was published since) or
    it does not (the record becomes ``failed``: interrupted before publication).
    An engine that cannot be opened now (e.g. a DuckDB file another run holds) leaves
    its records for the next command.
    """
    stores = TableStores(project, None)
    settled = []
    runs: set[str] = set()
    try:
        for rec, mid, published_id in pending:
            engine_name, schema, table = parse_ref(rec.value_ref or "")
            try:
                e = stores.engine(engine_name)
                holds = _holds(e, schema, table, rec.data_version)
            except (EngineError, StoreError):
                continue
            later = published_id is not None and published_id > mid  # published since
            catalog.settle_publication(
                mid,
                rec,
                published=holds,
                error=None if holds else "the run was interrupted before its table was published",
                state=not later,
            )
            settled.append((rec.key, holds))
            runs.add(rec.run_id)
    finally:
        stores.close()
    for run_id in sorted(runs):
        catalog.recount(run_id)
    return settled


def settle_interrupted_releases(
    project: Project, catalog: Any, pending: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    """Finish the releases whose process died (``catalog.checks.unsettled_releases``).

    ``assets quarantine release`` of a table swaps it in, in its engine, between two
    catalog transactions; the engine tells which side of its commit the process died
    on: the target table holds the released data version (released now) or not
    (quarantined again, the previous version still published).
    """
    from assets_core.catalog.checks import settle_release

    stores = TableStores(project, None)
    try:
        for row, started in pending:
            ref = row["value_ref"]
            if not is_table_ref(ref):  # nothing to swap: the value is where it was
                settle_release(catalog, row, started, published_ref=ref)
                continue
            engine_name, schema, _ = parse_ref(ref)
            try:
                e = stores.engine(engine_name)
                _, target = e.physical(row["key"])
                holds = _holds(e, schema, target, row["data_version"])
            except (EngineError, StoreError):
                continue  # its engine cannot be opened now: left for the next command
            published = table_ref(engine_name, schema, target) if holds else None
            settle_release(catalog, row, started, published_ref=published)
    finally:
        stores.close()


def _holds(e: Engine, schema: str | None, table: str, data_version: str | None) -> bool:
    """Does ``schema.table`` exist in ``e`` with content of ``data_version``?"""
    return (
        e.table_exists(schema, table)
        and e.data_version(e.qualify(schema, table), schema, table)[0] == data_version
    )
