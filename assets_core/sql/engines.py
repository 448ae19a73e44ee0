"""Engines: the databases SQL assets run on.

``duckdb`` is always there: an embedded DuckDB file (``.assets/warehouse.duckdb``).
More engines are named in ``[tool.assets.engines]``, each a SQLAlchemy URL (or a
``duckdb:///path`` for another DuckDB file)::

    [tool.assets.engines]
    warehouse = "postgresql+psycopg://analytics@db.internal/warehouse"
    duckdb = "duckdb:///data/warehouse.duckdb"        # move the default one
    lake = { url = "trino://...", dialect = "trino" }  # name the sqlglot dialect

An engine keeps one connection per run. The methods here are the few statements
the table store needs, written once per database family.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets_core.code_version import digest
from assets_core.errors import AssetsError, MissingExtraError, ProjectError, closest

DEFAULT_ENGINE = "duckdb"
DEFAULT_DUCKDB_FILE = "warehouse.duckdb"

# SQLAlchemy backend name -> sqlglot dialect
_DIALECTS = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "mssql": "tsql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "trino": "trino",
    "databricks": "databricks",
    "clickhouse": "clickhouse",
    "duckdb": "duckdb",
}


@dataclass(frozen=True, slots=True)
class Reads:
    """What a query reads, as far as its size goes: the qualified ``tables`` (its
    upstreams in this engine) and how many row ``sources`` it reads over all its scopes,
    None when it makes rows itself (see ``ParsedQuery.sources``). A query over ``k``
    sources of at most ``r`` rows each reads or makes at most ``(r + 1) ** k`` rows."""

    tables: tuple[str, ...] = ()
    sources: int | None = None


class EngineError(AssetsError):
    """A statement failed in an engine (names the asset and the database's message)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class EngineSpec:
    name: str
    url: str
    dialect: str  # the sqlglot dialect queries are transpiled to

    @property
    def is_duckdb(self) -> bool:
        return self.url.startswith("duckdb:")


def engine_specs(root: Path, raw: Mapping[str, Any]) -> dict[str, EngineSpec]:
    """Engines of a project from its ``[tool.assets]`` table (``raw``)."""
    state = root / ".assets"
    specs = {
        DEFAULT_ENGINE: EngineSpec(
            DEFAULT_ENGINE, f"duckdb:///{state / DEFAULT_DUCKDB_FILE}", "duckdb"
        )
    }
    table = raw.get("engines", {})
    if not isinstance(table, dict):
        raise ProjectError(
            "[tool.assets] engines must be a table of name = URL",
            hint='write:\n[tool.assets.engines]\nwarehouse = "postgresql+psycopg://host/db"',
        )
    for name, value in table.items():
        if isinstance(value, str):
            url, dialect = value, None
        elif isinstance(value, dict) and isinstance(value.get("url"), str):
            url, dialect = value["url"], value.get("dialect")
        else:
            raise ProjectError(
                f"[tool.assets.engines] {name} must be a URL or {{ url = ..., dialect = ... }}",
                hint=f'e.g. {name} = "postgresql+psycopg://host/db"',
            )
        backend = url.split(":", 1)[0].split("+", 1)[0]
        if backend == "duckdb":
            path = url[len("duckdb:///") :] if url.startswith("duckdb:///") else ""
            if not path:
                raise ProjectError(
                    f"[tool.assets.engines] {name}: a DuckDB URL is duckdb:///path/to/file.duckdb",
                    hint=f'e.g. {name} = "duckdb:///.assets/{name}.duckdb"',
                )
            if path != ":memory:" and not Path(path).is_absolute():
                url = f"duckdb:///{root / path}"
        dialect = dialect or _DIALECTS.get(backend)
        if dialect is None:
            raise ProjectError(
                f"[tool.assets.engines] {name}: no SQL dialect known for {backend!r} URLs",
                hint=f'name it: {name} = {{ url = "...", dialect = "postgres" }}',
            )
        from assets_core.sql.parse import check_dialect

        check_dialect(dialect, where=f"[tool.assets.engines] {name}")
        specs[name] = EngineSpec(name, url, dialect)
    return specs


def unknown_engine(name: str, specs: Mapping[str, EngineSpec], who: str, where: str) -> None:
    """Raise the load-time error for an asset that names an engine the project lacks."""
    from assets_core.errors import DefinitionError

    near = closest(name, specs)
    raise DefinitionError(
        f"{who} runs on engine {name!r}, which is not configured",
        location=where,
        hint=("did you mean " + ", ".join(near) + "? " if near else "")
        + f'add it to pyproject.toml:\n[tool.assets.engines]\n{name} = "postgresql+psycopg://..."',
    )


class Engine:
    """One open connection to an engine; subclasses speak its SQL family."""

    default_schema: str | None = None
    # may several direct writes share one transaction, committed once (TableStores)?
    shares_transactions = False

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.dialect = spec.dialect
        self.in_transaction = False
        self._qualified: dict[tuple[str | None, str], str] = {}
        self._sql_generator: Any = None

    # -- naming -----------------------------------------------------------------------------
    def physical(self, key: str) -> tuple[str | None, str]:
        """(schema, table) that holds ``key`` in this engine: ``bi/roas`` -> (bi, roas)."""
        parts = key.split("/")
        if len(parts) == 1:
            return self.default_schema, parts[0]
        return parts[0], "__".join(parts[1:])

    def qualify(self, schema: str | None, table: str) -> str:
        """The quoted name of ``schema.table`` in this engine's SQL."""
        got = self._qualified.get((schema, table))
        if got is None:  # a run asks for each name often
            parts = (self.catalog, schema, table) if schema is not None else (self.catalog, table)
            got = ".".join(self._ident(p) for p in parts if p is not None)
            self._qualified[(schema, table)] = got
        return got

    def _ident(self, name: str) -> str:
        """``name`` quoted as an identifier of this engine's dialect (by sqlglot)."""
        from sqlglot import exp

        return self._generator().generate(exp.to_identifier(name, quoted=True))

    def _generator(self) -> Any:
        """One sqlglot generator for this engine's dialect (making one per name costs more)."""
        if self._sql_generator is None:
            from sqlglot.dialects.dialect import Dialect

            self._sql_generator = Dialect.get_or_raise(self.dialect).generator()
        return self._sql_generator

    @property
    def catalog(self) -> str | None:
        return None

    def spelled_as(self, ref: tuple[str, ...], schema: str | None, table: str) -> bool:
        """Does the reference ``ref`` (as the query writes it) already name schema.table?"""
        return ref == (schema, table) or (schema == self.default_schema and ref == (table,))

    # -- statements (subclasses) ------------------------------------------------------------
    def run(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[Any]:
        raise NotImplementedError

    def _exec(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[Any]:
        """Run one of the engine's own statements (DDL of its tables): :meth:`run`, unless
        an engine runs its own statements apart from others' (DuckDB's small mode)."""
        return self.run(sql, params)

    def run_dicts(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a SELECT as dicts (column name -> value)."""
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def forget_session(self) -> None:
        """Forget what was cached about objects that a rolled-back transaction created."""

    def ensure_schema(self, schema: str | None) -> None:
        raise NotImplementedError

    def create_table_as(self, qualified: str, select_sql: str, reads: Reads | None = None) -> None:
        """Create (or replace) ``qualified`` from a SELECT; ``reads`` bounds its size (an
        engine may plan with it)."""
        raise NotImplementedError

    def rename(self, schema: str | None, table: str, new_name: str) -> None:
        self._exec(f"ALTER TABLE {self.qualify(schema, table)} RENAME TO {self._ident(new_name)}")

    def drop(self, qualified: str) -> None:
        self._exec(f"DROP TABLE IF EXISTS {qualified}")

    def table_exists(self, schema: str | None, table: str) -> bool:
        raise NotImplementedError

    def content_version(self, qualified: str, schema: str | None, table: str) -> tuple[int, Any]:
        """(rows, order-independent content hash) of a table, computed in the database."""
        raise NotImplementedError

    def columns(self, schema: str | None, table: str) -> list[tuple[str, str]]:
        raise NotImplementedError

    def read_frame(self, qualified: str, kind: str = "pandas") -> Any:
        raise NotImplementedError

    def write_frame(self, qualified: str, schema: str | None, table: str, frame: Any) -> None:
        """Create (or replace) ``qualified`` holding ``frame`` (pandas or polars)."""
        raise NotImplementedError

    def view_over_files(self, qualified: str, files: Sequence[Path]) -> bool:
        """Make ``qualified`` a view over data files, if this engine can (DuckDB)."""
        return False

    # -- shared ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def data_version(
        self, qualified: str, schema: str | None, table: str
    ) -> tuple[str, int, list[tuple[str, str]]]:
        """(data version, rows, columns) of a table: same content, same version, any order."""
        rows, content, columns = self.describe_content(qualified, schema, table)
        return version_of(rows, content, columns), rows, columns

    def data_versions(
        self, tables: Sequence[tuple[str | None, str]]
    ) -> list[tuple[str, int, list[tuple[str, str]]]]:
        """:meth:`data_version` of each ``(schema, table)``; an engine where each
        statement costs more than a small table's work describes them together."""
        return [self.data_version(self.qualify(s, t), s, t) for s, t in tables]

    def describe_content(
        self, qualified: str, schema: str | None, table: str
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        rows, content = self.content_version(qualified, schema, table)
        return rows, content, self.columns(schema, table)


def version_of(rows: int, content: Any, columns: list[tuple[str, str]]) -> str:
    """A table's data version: its columns (name, type as the engine prints it), its
    row count and its order-independent content hash."""
    return digest(f"table|{columns!r}|{rows}|{content}")


def row_alias(columns: list[tuple[str, str]]) -> str:
    """The table alias that names a whole row in ``hash(<alias>)``: ``t``, unless a
    column is named so (the column would then be hashed alone); the hash of a row does
    not depend on the alias's name."""
    taken = {c.lower() for c, _ in columns}
    alias, n = "t", 0
    while alias in taken:
        n += 1
        alias = f"t_row{n}"
    return alias


# DuckDB files being opened ahead of a run's first statement (see open_ahead)
_AHEAD: dict[EngineSpec, tuple[Any, list[Any]]] = {}


def open_ahead(specs: Iterable[EngineSpec]) -> None:
    """Start opening the DuckDB files of ``specs`` on threads; :func:`open_engine` takes
    each when the run first needs it. DuckDB reads a file's catalog with the GIL
    released (0.07 s with 1,000 tables here), so this overlaps what the caller does
    next: for ``assets materialize``, opening the run's catalog. An error (the file is
    locked by another process) is raised where the engine is taken, as it would be."""
    import threading

    for spec in specs:
        if not spec.is_duckdb or spec in _AHEAD:
            continue
        box: list[Any] = []

        def work(spec: EngineSpec = spec, box: list[Any] = box) -> None:
            try:
                box.append(_open(spec))
            except BaseException as e:  # re-raised in the thread that takes it
                box.append(e)

        thread = threading.Thread(target=work, name=f"open engine {spec.name}", daemon=True)
        thread.start()
        _AHEAD[spec] = (thread, box)


def engines_written(root: Path, raw: Mapping[str, Any], defs: Iterable[Any]) -> list[EngineSpec]:
    """The engines that the definitions ``defs`` write to (SQL assets, ``io=`` assets)."""
    names = {d.engine if d.kind == "sql" else getattr(d, "io", None) for d in defs}
    names.discard(None)
    if not names:
        return []
    specs = engine_specs(root, raw)
    return [specs[n] for n in sorted(names) if n in specs]  # type: ignore[index]


def close_ahead() -> None:
    """Close the engines opened ahead that no run took."""
    while _AHEAD:
        _, (thread, box) = _AHEAD.popitem()
        thread.join()
        if box and isinstance(box[0], Engine):
            box[0].close()


def open_engine(spec: EngineSpec) -> Engine:
    ahead = _AHEAD.pop(spec, None)
    if ahead is not None:
        thread, box = ahead
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]  # type: ignore[no-any-return]
    return _open(spec)


def _open(spec: EngineSpec) -> Engine:
    if spec.is_duckdb:
        from assets_core.sql.duckdb_engine import DuckDBEngine

        return DuckDBEngine(spec)
    from assets_core.sql.sqlalchemy_engine import SqlAlchemyEngine

    return SqlAlchemyEngine(spec)


def require(module: str, extra: str, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra, purpose) from None
