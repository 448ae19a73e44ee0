"""Engines reached through SQLAlchemy: PostgreSQL first, any other database by URL.

Content hashes are computed in PostgreSQL itself (``md5`` of each row's text,
summed, so row order does not matter). Databases without such a function get the
same order-independent sum computed while streaming the rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from assets_core.sql.engines import Engine, EngineError, EngineSpec, Reads, require, row_alias


class SqlAlchemyEngine(Engine):
    def __init__(self, spec: EngineSpec) -> None:
        super().__init__(spec)
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

        self._sa = sa
        self._error = SQLAlchemyError
        try:
            url = make_url(spec.url)
            self.engine = sa.create_engine(url)
            self.conn = self.engine.connect()
        except (ArgumentError, NoSuchModuleError, ImportError) as e:
            raise EngineError(
                f"cannot open engine {spec.name}: {e}",
                hint="check the URL in [tool.assets.engines] and install its driver "
                '(PostgreSQL: pip install "assets-core[postgres]")',
            ) from None
        except SQLAlchemyError as e:
            raise EngineError(
                f"cannot connect to engine {spec.name} "
                f"({url.render_as_string(hide_password=True)}): {getattr(e, 'orig', e)}",
                hint="check that the database is up and the URL in [tool.assets.engines]",
            ) from None
        self.backend = url.get_backend_name()
        self._percent_is_placeholder = self.engine.dialect.paramstyle in ("format", "pyformat")
        self.default_schema = "public" if self.backend == "postgresql" else None
        self._schemas: set[str] = set()

    def run(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[Any]:
        return self._run(sql, params, dicts=False)

    def run_dicts(self, sql: str) -> list[dict[str, Any]]:
        return self._run(sql, None, dicts=True)

    def _run(self, sql: str, params: Any, *, dicts: bool) -> list[Any]:
        if not params and self._percent_is_placeholder:
            sql = sql.replace("%", "%%")  # the driver reads % as a placeholder even then
        try:
            result = self.conn.exec_driver_sql(sql, params or ())
            if not result.returns_rows:
                rows: list[Any] = []
            elif dicts:
                rows = [dict(r) for r in result.mappings()]
            else:
                rows = result.fetchall()
        except self._error as e:
            if not self.in_transaction:
                self.conn.rollback()
            raise EngineError(str(getattr(e, "orig", None) or e).strip()) from None
        if not self.in_transaction:
            self.conn.commit()
        return rows

    def begin(self) -> None:
        if self.conn.in_transaction():
            self.conn.commit()
        self.conn.begin()
        self.in_transaction = True

    def commit(self) -> None:
        self.in_transaction = False
        try:
            self.conn.commit()
        except self._error as e:
            raise EngineError(str(getattr(e, "orig", None) or e).strip()) from None

    def rollback(self) -> None:
        self.in_transaction = False
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()

    def ensure_schema(self, schema: str | None) -> None:
        if schema is None or schema in self._schemas or schema == self.default_schema:
            return
        self.run(f"CREATE SCHEMA IF NOT EXISTS {self._ident(schema)}")
        self._schemas.add(schema)

    def create_table_as(self, qualified: str, select_sql: str, reads: Reads | None = None) -> None:
        if not self.in_transaction:  # replacing the table is one atomic step for readers
            with self.transaction():
                self.create_table_as(qualified, select_sql)
            return
        self.run(f"DROP TABLE IF EXISTS {qualified}")
        self.run(f"CREATE TABLE {qualified} AS\n{select_sql}\n")

    def table_exists(self, schema: str | None, table: str) -> bool:
        return bool(self._sa.inspect(self.conn).has_table(table, schema=schema))

    def describe_content(
        self, qualified: str, schema: str | None, table: str
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        columns = self.columns(schema, table)
        return (*self._content(qualified, row_alias(columns)), columns)

    def content_version(self, qualified: str, schema: str | None, table: str) -> tuple[int, Any]:
        return self._content(qualified, row_alias(self.columns(schema, table)))

    def _content(self, qualified: str, t: str) -> tuple[int, Any]:
        if self.backend == "postgresql":
            # 60 bits of each row's md5, summed as numeric: order-independent, no overflow
            n, h = self.run(
                f"SELECT count(*), COALESCE(sum(('x' || substr(md5({t}::text), 1, 15))"
                f"::bit(60)::bigint), 0) FROM {qualified} AS {t}"
            )[0]
            return int(n), int(h)
        total, rows = 0, 0
        try:
            sql = f"SELECT * FROM {qualified}"
            if self._percent_is_placeholder:
                sql = sql.replace("%", "%%")
            result = self.conn.exec_driver_sql(sql)
            for row in result:
                rows += 1
                total += int.from_bytes(hashlib.blake2b(repr(tuple(row)).encode()).digest()[:16])
        except self._error as e:
            raise EngineError(str(getattr(e, "orig", None) or e).strip()) from None
        return rows, total % (1 << 128)

    def columns(self, schema: str | None, table: str) -> list[tuple[str, str]]:
        cols = self._sa.inspect(self.conn).get_columns(table, schema=schema)
        return [(c["name"], str(c["type"])) for c in cols]

    def read_frame(self, qualified: str, kind: str = "pandas") -> Any:
        sql = f"SELECT * FROM {qualified}"
        try:
            if kind == "polars":
                pl = require("polars", "polars", "reading a table as a polars DataFrame")
                return pl.read_database(sql, self.conn)
            pd = require("pandas", "pandas", "reading a table as a pandas DataFrame")
            return pd.read_sql_query(self._sa.text(sql), self.conn)
        except self._error as e:
            raise EngineError(str(getattr(e, "orig", None) or e).strip()) from None

    def write_frame(self, qualified: str, schema: str | None, table: str, frame: Any) -> None:
        if type(frame).__module__.startswith("polars"):
            frame = frame.to_pandas()
        try:
            frame.to_sql(
                table,
                self.conn,
                schema=schema,
                if_exists="replace",
                index=False,
                method="multi",
                chunksize=1000,
            )
        except self._error as e:
            raise EngineError(str(getattr(e, "orig", None) or e).strip()) from None
        if not self.in_transaction:
            self.conn.commit()
