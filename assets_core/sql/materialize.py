"""Running a SQL asset on its engine: make its upstreams readable, render its query.

Every upstream key has one name in each engine (``bi/customer_journey`` is
``bi.customer_journey``; see :meth:`Engine.physical`). Before a query runs, each
upstream is made readable under that name:

- a SQL asset (or ``io=`` asset) on the same engine already is: it is a table there;
- a Python asset stored as parquet becomes a DuckDB view over its file (other
  engines get a copy of the frame);
- a table of another engine is copied in;
- a source with ``path=`` becomes a DuckDB view over its files (other engines get
  a copy); a source with ``observe=`` is a table that already exists in the engine.

The query is then rendered for the engine by sqlglot: table references replaced
by those names and the dialect transpiled. When nothing needs rewriting (same
dialect, references already spelled like the engine's names) the query is sent
as written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assets_core.definitions import SourceDef
from assets_core.sources import matched_files
from assets_core.sql.engines import Engine, EngineError

if TYPE_CHECKING:
    from assets_core.sql.definition import SqlAssetDef
    from assets_core.sql.table_store import TableStores


def prepare_upstreams(
    stores: TableStores,
    engine: Engine,
    d: SqlAssetDef,
    refs: dict[str, str],
    current: dict[str, str],
) -> None:
    from assets_core.sql.table_store import is_table_ref, parse_ref

    graph = stores.project.graph
    for up in dict.fromkeys(d.ins.values()):
        version = current.get(up, "")
        if stores.prepared.get((engine.name, up)) == version:
            continue
        schema, table = engine.physical(up)
        qualified = engine.qualify(schema, table)
        ud = graph.defs[up]
        if isinstance(ud, SourceDef):
            if ud.path is None:
                continue  # observed source: a table that exists in the engine already
            files = matched_files(ud, stores.project.root)
            if not files:
                raise EngineError(f"source {up} matches no file ({ud.path})")
            engine.ensure_schema(schema)
            if not engine.view_over_files(qualified, files):
                engine.write_frame(qualified, schema, table, _read_files(up, files))
        else:
            ref = refs.get(up)
            if ref is None:
                raise EngineError(f"upstream {up} has no published value")
            if is_table_ref(ref):
                other, _, _ = parse_ref(ref)
                if other != engine.name:
                    frame = stores.load(up, ref)
                    engine.ensure_schema(schema)
                    engine.write_frame(qualified, schema, table, frame)
            else:
                fmt = ref.partition(":")[0]
                if fmt not in ("pandas", "polars"):
                    raise EngineError(
                        f"it reads {up}, whose value is a pickled Python object, not a "
                        "DataFrame; SQL reads DataFrames (stored as parquet) and tables",
                    )
                assert stores.file_store is not None
                path = stores.file_store.path_of(ref)
                assert path is not None
                engine.ensure_schema(schema)
                if not engine.view_over_files(qualified, [path]):
                    engine.write_frame(qualified, schema, table, stores.file_store.load(up, ref))
        stores.prepared[(engine.name, up)] = version


def _read_files(key: str, files: list[Any]) -> Any:
    import pandas as pd

    frames = []
    for p in files:
        suffix = p.suffix.lower()
        if suffix == ".parquet":
            frames.append(pd.read_parquet(p))
        elif suffix in (".json", ".jsonl", ".ndjson"):
            frames.append(pd.read_json(p, lines=suffix != ".json"))
        else:
            frames.append(pd.read_csv(p, sep="\t" if suffix == ".tsv" else ","))
    return pd.concat(frames, ignore_index=True)


def render(engine: Engine, d: SqlAssetDef) -> str:
    """The query as ``engine`` runs it: physical table names, the engine's dialect."""
    names = {t: engine.physical(d.ins[t]) for t in d.tables}
    if d.dialect == engine.dialect:
        text = _single_statement(d.sql)
        if text is not None and all(
            engine.spelled_as(tuple(t.split(".")), *names[t]) for t in d.tables
        ):
            return text
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
    from sqlglot.optimizer.scope import traverse_scope

    query = sqlglot.parse_one(d.sql, read=d.dialect)
    normalize_identifiers(query, dialect=d.dialect)
    tables = [
        src
        for scope in traverse_scope(query)
        for src in scope.sources.values()
        if isinstance(src, exp.Table) and isinstance(src.this, exp.Identifier)
    ]
    for t in tables:
        text = ".".join(p.name for p in t.parts)
        if text not in names:
            continue
        schema, table = names[text]
        new = exp.table_(table, db=schema, catalog=engine.catalog, quoted=True)
        alias = t.args.get("alias")
        new.set("alias", alias.copy() if alias else exp.TableAlias(this=exp.to_identifier(t.name)))
        t.replace(new)
    return query.sql(dialect=engine.dialect)


def _single_statement(sql: str) -> str | None:
    """``sql`` without its final ``;``; None when another ``;`` makes that unsafe."""
    text = sql.rstrip()
    if text.endswith(";"):
        text = text[:-1]
    return None if ";" in text else text
