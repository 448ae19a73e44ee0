"""Column-level lineage rows in the catalog, one set per materialization (version)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select

from assets_core.catalog import schema as t

# column -> [(upstream key, upstream column)]; an empty list: fed by no upstream column
Edges = Mapping[str, Sequence[tuple[str, str]]]

_L = t.column_lineage.c


def save(catalog: Any, materialization_id: int, key: str, edges: Edges, how: str) -> None:
    rows = []
    for column, ups in edges.items():
        base = {"materialization_id": materialization_id, "key": key, "column": column}
        if not ups:
            rows.append({**base, "upstream": None, "upstream_column": None, "how": how})
        for up, up_col in ups:
            rows.append({**base, "upstream": up, "upstream_column": up_col, "how": how})
    if rows:
        with catalog.writer.begin() as conn:
            conn.execute(insert(t.column_lineage), rows)


def load(catalog: Any, materialization_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """{materialization id: {"how": ..., "edges": {column: [(upstream, column), ...]}}}."""
    ids = list(materialization_ids)
    out: dict[int, dict[str, Any]] = {}
    if not ids:
        return out
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            select(_L.materialization_id, _L.column, _L.upstream, _L.upstream_column, _L.how)
            .where(_L.materialization_id.in_(ids))
            .order_by(_L.id)
        ).all()
    for mid, column, up, up_col, how in rows:
        entry = out.setdefault(mid, {"how": how, "edges": {}})
        ups = entry["edges"].setdefault(column, [])
        if up is not None:
            ups.append((up, up_col))
    return out


def published(catalog: Any, keys: Iterable[str]) -> dict[str, tuple[int, list[tuple[str, str]]]]:
    """{key: (published materialization id, its recorded [(column, dtype)])} for ``keys``."""
    import json

    a, m = t.asset_state.c, t.materializations.c
    wanted = list(keys)
    if not wanted:
        return {}
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            select(a.key, a.materialization_id, m.columns)
            .join(t.materializations, m.id == a.materialization_id)
            .where(a.key.in_(wanted))
        ).all()
    return {
        key: (mid, [tuple(c) for c in json.loads(cols)] if cols else [])  # type: ignore[misc]
        for key, mid, cols in rows
        if mid is not None
    }
