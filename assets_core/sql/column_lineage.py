"""Column-level lineage of a SQL asset, with sqlglot: which upstream columns feed each column.

The query's tables are renamed to placeholders whose schemas are the upstreams'
recorded columns, the query is qualified (``SELECT *`` expanded, every column tied
to its table), and ``sqlglot.lineage`` follows each output column through CTEs,
subqueries, joins and aggregates down to upstream columns.

>>> d_tables = {"bi.journey": "bi/journey", "ads.spend": "ads/spend"}
>>> edges = column_edges(
...     "SELECT j.day, SUM(j.revenue) / SUM(s.spend) AS roas, COUNT(*) AS n "
...     "FROM bi.journey j JOIN ads.spend s USING (day) GROUP BY 1",
...     "duckdb",
...     d_tables,
...     {"bi/journey": [("day", "DATE"), ("revenue", "DOUBLE")], "ads/spend": [("day", "DATE"),
...      ("spend", "DOUBLE")]},
... )
>>> edges["roas"], edges["n"]
([('ads/spend', 'spend'), ('bi/journey', 'revenue')], [])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from assets_core.errors import AssetsError


class ColumnLineageError(AssetsError):
    """sqlglot cannot follow the columns of a query."""


def column_edges(
    sql: str,
    dialect: str,
    tables: Mapping[str, str],
    schemas: Mapping[str, Sequence[tuple[str, str]]],
    *,
    key: str = "",
) -> dict[str, list[tuple[str, str]]]:
    """{output column: sorted [(upstream key, upstream column)]} for the query ``sql``.

    ``tables`` maps each table name the query writes to its key; ``schemas`` holds
    the known columns of those keys (unknown ones: ``SELECT *`` over them cannot be
    expanded, qualified columns still resolve).
    """
    try:
        query = sqlglot.parse_one(sql, read=dialect)
        placeholder: dict[str, str] = {}
        schema: dict[str, dict[str, str]] = {}
        for i, t in enumerate(_tables(query)):
            text = ".".join(p.name for p in t.parts).lower()
            up = next((k for name, k in tables.items() if name.lower() == text), None)
            if up is None:
                continue
            name = f"__upstream_{i}"
            placeholder[name] = up
            if schemas.get(up):
                schema[name] = {c: (dtype or "UNKNOWN") for c, dtype in schemas[up]}
            alias = t.args.get("alias")
            new = exp.Table(this=exp.to_identifier(name))
            new.set(
                "alias", alias.copy() if alias else exp.TableAlias(this=exp.to_identifier(t.name))
            )
            t.replace(new)
        qualified = qualify(
            query,
            schema=schema or None,
            dialect=dialect,
            validate_qualify_columns=False,
            identify=False,
        )
        out: dict[str, list[tuple[str, str]]] = {}
        for select in qualified.selects:
            name = select.alias_or_name
            node = lineage(name, qualified, schema=schema or None, dialect=dialect, copy=True)
            found = set()
            for n in node.walk():
                if isinstance(n.expression, exp.Table) and n.expression.name in placeholder:
                    col = n.name.rsplit(".", 1)[-1].strip('"`[]')
                    found.add((placeholder[n.expression.name], col))
            out[name] = sorted(found)
        return out
    except SqlglotError as e:
        raise ColumnLineageError(
            f"asset {key}: sqlglot cannot follow the columns of its query: {e}",
            hint="column lineage needs the upstreams' columns: materialize them first",
        ) from None


def _tables(query: exp.Expression) -> list[exp.Table]:
    return [
        src
        for scope in traverse_scope(query)
        for src in scope.sources.values()
        if isinstance(src, exp.Table) and isinstance(src.this, exp.Identifier)
    ]
