"""The embedded DuckDB engine (the default): one database file, one connection per run.

Python assets' parquet files and sources' data files are read from SQL through
views named like their keys, so ``FROM bi.customer_journey`` works whether that
asset is a table here or a DataFrame stored by a Python asset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assets_core.sql.engines import (
    Engine,
    EngineError,
    EngineSpec,
    Reads,
    require,
    row_alias,
    version_of,
)

_MARK = "__assets_core_table_"  # see DuckDBEngine._columns_together
ROW_GROUP = 122_880  # rows in one of DuckDB's row groups (see DuckDBEngine._bound)
FETCHED_ROWS = 2_048  # one of DuckDB's vectors (see DuckDBEngine._fetched)
# the alias naming a whole row when its columns are not known yet; a column named so
# would be taken for the row: names starting with __assets_core_ are reserved
ROW_ALIAS = "__assets_core_row__"


_READERS = {
    ".parquet": "read_parquet",
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".txt": "read_csv_auto",
    ".json": "read_json_auto",
    ".jsonl": "read_json_auto",
    ".ndjson": "read_json_auto",
}


class DuckDBEngine(Engine):
    default_schema = "main"
    shares_transactions = True  # a commit costs more than a small table: share it

    def __init__(self, spec: EngineSpec) -> None:
        super().__init__(spec)
        duckdb = require("duckdb", "sql", f"engine {spec.name} (DuckDB)")
        self._error = duckdb.Error
        path = spec.url[len("duckdb:///") :]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = duckdb.connect(path)
        except duckdb.Error as e:
            raise EngineError(
                f"cannot open the DuckDB database {path} of engine {spec.name}: {e}",
                hint="another process may hold it open (DuckDB allows one writer process); "
                "wait for it to finish",
            ) from None
        self._catalog = self.conn.execute("SELECT current_database()").fetchall()[0][0]
        self._schemas: set[str] = set()
        # rows (or a bound of them) of the tables this engine wrote, described or found
        self._rows: dict[str, int] = {}
        self._rows_read = False
        self._small_mode = False

    @property
    def catalog(self) -> str | None:
        return self._catalog

    def _ident(self, name: str) -> str:
        # DuckDB's one quoting rule; a run that reads its cached queries needs no sqlglot
        return '"' + name.replace('"', '""') + '"'

    def spelled_as(self, ref: tuple[str, ...], schema: str | None, table: str) -> bool:
        # DuckDB identifiers are case-insensitive; a schema named like a database is ambiguous
        low = tuple(p.lower() for p in ref)
        schema_l = (schema or self.default_schema).lower()
        if low == (schema_l, table.lower()):
            return schema_l not in (self._catalog.lower(), "system", "temp")
        return schema_l == self.default_schema and low == (table.lower(),)

    def run(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[Any]:
        """Run any statement (a check's query, a user's), with the database's settings."""
        self._use_small_mode(False)
        return self._exec(sql, params)

    def _exec(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[Any]:
        """Run one of this engine's own statements, in whatever mode the engine is in."""
        try:
            return self.conn.execute(sql, params).fetchall()
        except self._error as e:
            raise EngineError(str(e)) from None

    def run_dicts(self, sql: str) -> list[dict[str, Any]]:
        self._use_small_mode(False)
        try:
            cur = self.conn.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except self._error as e:
            raise EngineError(str(e)) from None

    def begin(self) -> None:
        self._exec("BEGIN TRANSACTION")
        self.in_transaction = True

    def commit(self) -> None:
        self.in_transaction = False
        self._exec("COMMIT")

    def rollback(self) -> None:
        self.in_transaction = False
        try:
            self.conn.execute("ROLLBACK").fetchall()
        except self._error:
            pass  # nothing to roll back: the transaction had already ended

    def close(self) -> None:
        self.conn.close()

    def forget_session(self) -> None:
        self._schemas.clear()
        self._rows.clear()  # a rolled-back transaction may have written or renamed them
        self._rows_read = False

    def ensure_schema(self, schema: str | None) -> None:
        if schema is None or schema in self._schemas:
            return
        self._exec(
            f"CREATE SCHEMA IF NOT EXISTS {self._ident(self._catalog)}.{self._ident(schema)}"
        )
        self._schemas.add(schema)

    def create_table_as(self, qualified: str, select_sql: str, reads: Reads | None = None) -> None:
        bound = self._bound(reads) if reads is not None else None
        self._use_small_mode(bound is not None)
        self._exec(f"CREATE OR REPLACE TABLE {qualified} AS\n{select_sql}\n")
        if bound is None:
            self._rows.pop(qualified, None)
        else:  # at most; its description gives the count
            self._rows[qualified] = bound

    # -- small statements ----------------------------------------------------------------
    # DuckDB splits its work by row groups (122,880 rows). A statement that can read or
    # make no more rows than one row group runs on one thread whatever the setting, and
    # starting the others costs more than its work: about half a millisecond a
    # statement here, a third of a small CREATE TABLE AS. Its plan needs no optimizing
    # either (a quarter of what is left): even a cross product of its inputs is within
    # one row group, and the optimizer changes how a query runs, never its result. The
    # engine's own statements on such tables (writing them, describing them) run with
    # threads = 1 and without the optimizer ("small mode"); every other statement with
    # the database's settings.
    def _bound(self, reads: Reads) -> int | None:
        """At most how many rows a query that ``reads`` so can read or make, when that is
        within one row group; else None. Known only when every table it reads has known
        rows (tables this engine wrote or described, and those it found at its first
        question); a view (over parquet or CSV files) is not a table."""
        if reads.sources is None:
            return None
        if not self._rows_read:
            self._read_rows()
        most = 0
        for q in reads.tables:
            n = self._rows.get(q)
            if n is None:
                return None
            most = max(most, n)
        bound = (most + 1) ** reads.sources
        return bound if bound <= ROW_GROUP else None

    def _all_small(self, names: Sequence[str]) -> bool:
        return all(self._rows.get(q, ROW_GROUP + 1) <= ROW_GROUP for q in names)

    def _read_rows(self) -> None:
        self._rows_read = True
        found = self._exec(
            "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
            "WHERE database_name = ?",
            [self._catalog],
        )
        for schema, table, n in found:
            self._rows.setdefault(self.qualify(schema, table), int(n))

    def _use_small_mode(self, small: bool) -> None:
        if small == self._small_mode:
            return
        if small:
            self._exec("SET threads = 1; PRAGMA disable_optimizer")
        else:
            self._exec("RESET threads; PRAGMA enable_optimizer")
        self._small_mode = small

    def rename(self, schema: str | None, table: str, new_name: str) -> None:
        super().rename(schema, table, new_name)
        n = self._rows.pop(self.qualify(schema, table), None)
        if n is not None:
            self._rows[self.qualify(schema, new_name)] = n

    def drop(self, qualified: str) -> None:
        super().drop(qualified)
        self._rows.pop(qualified, None)

    def table_exists(self, schema: str | None, table: str) -> bool:
        return bool(
            self._exec(
                "SELECT 1 FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
                "AND table_name = ?",
                [self._catalog, schema or self.default_schema, table],
            )
        )

    def describe_content(
        self, qualified: str, schema: str | None, table: str
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        ((rows, content, columns),) = self._describe([qualified])
        return rows, content, columns

    def data_versions(
        self, tables: Sequence[tuple[str | None, str]]
    ) -> list[tuple[str, int, list[tuple[str, str]]]]:
        described = self._describe([self.qualify(s, t) for s, t in tables])
        return [(version_of(rows, content, cols), rows, cols) for rows, content, cols in described]

    # -- describing tables ---------------------------------------------------------------
    # Every statement costs a fraction of a millisecond whatever it does, and so does each
    # table it reads: a batch of tables is described in as few statements as its size
    # allows. A table's description is its rows, the sum of the hashes of its rows (order
    # does not matter, duplicates count) and its columns with their types.
    def _describe(self, names: Sequence[str]) -> list[tuple[int, int, list[tuple[str, str]]]]:
        self._use_small_mode(self._all_small(names))
        try:
            fetched = self._fetched(names) if self._few_rows(names) else None
            if fetched is not None:
                return fetched
            if len(names) > 1:
                columns = self._columns_together(names) or [self._bound_columns(q) for q in names]
            else:
                columns = [self._bound_columns(q) for q in names]
            each = self._each_row(names, [row_alias(c) for c in columns], "hash({t}) AS h")
            sql = f"SELECT i, count(*), sum(h::HUGEINT) FROM ({each}) AS r GROUP BY i"
            got = {i: (int(n), int(h or 0)) for i, n, h in self.conn.execute(sql).fetchall()}
        except self._error as e:
            raise EngineError(str(e)) from None
        out = []  # an empty table has no group
        for q, cols, i in zip(names, columns, range(len(names)), strict=True):
            rows, content = got.get(i, (0, 0))
            self._rows[q] = rows
            out.append((rows, content, cols))
        return out

    def _few_rows(self, names: Sequence[str]) -> bool:
        """Are the tables known to hold no more than :data:`FETCHED_ROWS` rows together?"""
        return sum(self._rows.get(q, FETCHED_ROWS + 1) for q in names) <= FETCHED_ROWS

    def _fetched(self, names: Sequence[str]) -> list[tuple[int, int, list[tuple[str, str]]]] | None:
        """The descriptions of tables holding few rows, from one query that fetches each
        row's hash and type: DuckDB sets up an aggregate, and binds a table for its
        columns, for more than it takes to send a vector of them. The row's type is its
        columns (``STRUCT(name type, ...)``). None when a type does not read so."""
        alias = [ROW_ALIAS] * len(names)
        each = self._each_row(names, alias, "hash({t}) AS h, typeof({t}) AS ty")
        sums: dict[int, tuple[int, int, str]] = {}
        for i, h, ty in self.conn.execute(each).fetchall():
            rows, content, _ = sums.get(i, (0, 0, ty))
            sums[i] = (rows + 1, content + h, ty)
        out = []
        for i, q in enumerate(names):
            rows, content, ty = sums.get(i, (0, 0, ""))
            cols = struct_fields(ty) if rows else self._bound_columns(q)  # empty: no row
            if cols is None or any(c.lower() == ROW_ALIAS for c, _ in cols):
                return None
            self._rows[q] = rows
            out.append((rows, content, cols))
        return out

    @staticmethod
    def _each_row(names: Sequence[str], aliases: Sequence[str], select: str) -> str:
        """``SELECT <i> AS i, <select> FROM <table i> AS <alias i>`` of each table, in one
        query (``{t}`` in ``select``: the alias, which names the whole row)."""
        return " UNION ALL ".join(
            f"SELECT {i} AS i, {select.format(t=t)} FROM {q} AS {t}"
            for i, (q, t) in enumerate(zip(names, aliases, strict=True))
        )

    def _bound_columns(self, qualified: str) -> list[tuple[str, str]]:
        rel = self.conn.sql(f"SELECT * FROM {qualified}")
        return [(c, str(ty)) for c, ty in zip(rel.columns, rel.types, strict=True)]

    def _columns_together(self, names: list[str]) -> list[list[tuple[str, str]]] | None:
        """The columns of each table, from binding ``SELECT NULL AS <mark 0>, t0.*, NULL
        AS <mark 1>, t1.* ...`` over empty subqueries; None when a column's name could
        be taken for a mark (the caller then binds the tables one by one)."""
        marks = [f"{_MARK}{i}__" for i in range(len(names))]
        select = ", ".join(f'NULL AS "{m}", "t{i}".*' for i, m in enumerate(marks))
        sources = ", ".join(f'(SELECT * FROM {q} LIMIT 0) AS "t{i}"' for i, q in enumerate(names))
        rel = self.conn.sql(f"SELECT {select} FROM {sources}")
        out: list[list[tuple[str, str]]] = []
        for name, ty in zip(rel.columns, rel.types, strict=True):
            if len(out) < len(marks) and name == marks[len(out)]:
                out.append([])
            elif name.startswith(_MARK) or not out:
                return None
            else:
                out[-1].append((name, str(ty)))
        return out if len(out) == len(names) else None

    def content_version(self, qualified: str, schema: str | None, table: str) -> tuple[int, Any]:
        rows, content, _ = self.describe_content(qualified, schema, table)
        return rows, content

    def columns(self, schema: str | None, table: str) -> list[tuple[str, str]]:
        return self._bound_columns(self.qualify(schema, table))

    def read_frame(self, qualified: str, kind: str = "pandas") -> Any:
        try:
            rel = self.conn.sql(f"SELECT * FROM {qualified}")
            return rel.pl() if kind == "polars" else rel.df()
        except self._error as e:
            raise EngineError(str(e)) from None

    def write_frame(self, qualified: str, schema: str | None, table: str, frame: Any) -> None:
        name = "__assets_core_frame"
        self.conn.register(name, frame)
        try:
            self.create_table_as(qualified, f"SELECT * FROM {name}")
        finally:
            self.conn.unregister(name)

    def view_over_files(self, qualified: str, files: Sequence[Path]) -> bool:
        readers = {_READERS.get(p.suffix.lower()) for p in files}
        if len(readers) != 1 or None in readers:
            return False
        (reader,) = readers
        listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        self._exec(f"CREATE OR REPLACE VIEW {qualified} AS SELECT * FROM {reader}([{listed}])")
        return True


def struct_fields(type_text: str) -> list[tuple[str, str]] | None:
    """The fields of a DuckDB ``STRUCT(name type, ...)`` type as it prints, each as
    ``(name, type)``; a name is quoted when it must be (``"my col"``, with ``""`` for a
    quote in it). None when the text does not read so.

    >>> struct_fields('STRUCT(v INTEGER, "my col" DECIMAL(4,1), s STRUCT(a INTEGER)[])')
    [('v', 'INTEGER'), ('my col', 'DECIMAL(4,1)'), ('s', 'STRUCT(a INTEGER)[]')]
    """
    if not (type_text.startswith("STRUCT(") and type_text.endswith(")")):
        return None
    body, fields, i = type_text[7:-1], [], 0
    while i < len(body):
        if body[i] == '"':  # a quoted name, "" inside for "
            end = i + 1
            while True:
                end = body.find('"', end)
                if end < 0:
                    return None
                if body.startswith('""', end):
                    end += 2
                    continue
                break
            name, i = body[i + 1 : end].replace('""', '"'), end + 1
        else:
            end = body.find(" ", i)
            if end < 0:
                return None
            name, i = body[i:end], end
        if not body.startswith(" ", i):
            return None
        start = i = i + 1
        depth, quote = 0, ""
        while i < len(body):  # the type: up to the next ", " outside brackets and quotes
            ch = body[i]
            if quote:
                if ch == quote:
                    if body.startswith(quote * 2, i):
                        i += 1
                    else:
                        quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif ch == "," and depth == 0:
                break
            i += 1
        if depth or quote or i == start:
            return None
        fields.append((name, body[start:i]))
        if i < len(body):
            if not body.startswith(", ", i):
                return None
            i += 2
            if i == len(body):
                return None
    return fields or None
