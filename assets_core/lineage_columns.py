"""Column-level lineage across SQL and Python assets: what feeds a column, walked upstream.

SQL assets know theirs (sqlglot follows each column through CTEs, joins and
aggregates); Python assets declare theirs (``@asset(columns={"roas": ["revenue",
"spend"]})``, each source column optionally qualified by a parameter or an
upstream key: ``"journey.amount_usd"``). The lineage of a published version is
computed the first time someone asks and kept in the catalog with that version
(table ``column_lineage``); a version never published is computed from the
definitions each time.

``column_lineage(project, catalog, key, column)`` returns the tree of upstream
columns that feed ``key.column``; ``assets lineage KEY --column COL`` prints it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assets_core.errors import AssetsError, DefinitionError, closest

NOT_DECLARED = "python asset without declared column lineage (@asset(columns=...))"
COLUMN_NOT_DECLARED = "its columns= declaration does not list this column"


@dataclass(frozen=True, slots=True)
class AssetColumns:
    """The column lineage of one asset version: ``edges[column] = [(upstream, column)]``."""

    key: str
    how: str  # sql | declared
    edges: Mapping[str, Sequence[tuple[str, str]]]
    materialization_id: int | None  # the version it belongs to (None: not published)


@dataclass(frozen=True, slots=True)
class ColumnNode:
    """``key.column`` and the upstream columns that feed it (a tree)."""

    key: str
    column: str
    kind: str  # sql | python | source
    how: str | None = None  # how the columns below were found: sql | declared
    note: str | None = None  # why the walk stops here, when it does
    upstream: tuple[ColumnNode, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "column": self.column, "kind": self.kind}
        if self.how:
            out["how"] = self.how
        if self.note:
            out["note"] = self.note
        out["upstream"] = [u.as_dict() for u in self.upstream]
        return out

    def edges(self) -> list[dict[str, str]]:
        """Every (upstream column -> column) edge of the tree, once each."""
        seen: dict[tuple[str, str, str, str], dict[str, str]] = {}
        queue = deque([self])  # breadth first: nearest edges first, in tree order
        while queue:
            n = queue.popleft()
            for u in n.upstream:
                edge = (u.key, u.column, n.key, n.column)
                if edge not in seen:
                    seen[edge] = {
                        "from_key": u.key,
                        "from_column": u.column,
                        "to_key": n.key,
                        "to_column": n.column,
                        "how": n.how or "",
                    }
                queue.append(u)
        return list(seen.values())


def column_lineage(project: Any, catalog: Any, key: str, column: str) -> ColumnNode:
    """The upstream columns that feed ``key.column``, walked to sources or undeclared steps."""
    g = project.graph
    if key not in g.defs:
        raise AssetsError(
            f"no asset {key!r}",
            hint="did you mean " + ", ".join(closest(key, g.defs)) + "?"
            if closest(key, g.defs)
            else "list them with: assets list",
        )
    cache: dict[str, AssetColumns | None] = {}

    def columns_of(k: str) -> AssetColumns | None:
        if k not in cache:
            cache[k] = edges_of(project, catalog, [k]).get(k)
        return cache[k]

    root = columns_of(key)
    if root is not None and column not in root.edges:
        known = sorted(root.edges)
        near = closest(column, known)
        raise AssetsError(
            f"asset {key} has no column {column!r}"
            + (f" in its {'published version' if root.materialization_id else 'query'}"),
            hint=("did you mean " + ", ".join(near) + "? " if near else "")
            + "its columns are: "
            + ", ".join(known),
        )
    return _walk(g, key, column, columns_of, frozenset())


def _walk(g: Any, key: str, column: str, columns_of: Any, path: frozenset[str]) -> ColumnNode:
    d = g.defs[key]
    if d.kind == "source":
        return ColumnNode(key, column, "source")
    here = f"{key}.{column}"
    if here in path:  # cannot happen in a DAG; guards a hand-edited catalog
        return ColumnNode(key, column, d.kind, note="cycle")
    info = columns_of(key)
    if info is None:
        return ColumnNode(key, column, d.kind, note=NOT_DECLARED)
    if column not in info.edges:
        note = COLUMN_NOT_DECLARED if info.how == "declared" else "not a column of this asset"
        return ColumnNode(key, column, d.kind, how=info.how, note=note)
    ups = tuple(
        _walk(g, up, up_col, columns_of, path | {here})
        for up, up_col in info.edges[column]
        if up in g.defs
    )
    note = None if ups else "fed by no upstream column (a constant or a count)"
    return ColumnNode(key, column, d.kind, how=info.how, note=note, upstream=ups)


def edges_of(project: Any, catalog: Any, keys: Iterable[str]) -> dict[str, AssetColumns]:
    """Column lineage of the published version of each of ``keys`` (or of its definition).

    Without ``project`` only what the catalog already records is returned; with it,
    what is missing is computed, and stored when the version is published.
    """
    from assets_core.catalog import column_lineage as store

    keys = list(dict.fromkeys(keys))
    pub = store.published(catalog, keys)
    recorded = store.load(catalog, [mid for mid, _ in pub.values()])
    out: dict[str, AssetColumns] = {}
    missing = []
    for k in keys:
        mid = pub[k][0] if k in pub else None
        if mid is not None and mid in recorded:
            r = recorded[mid]
            out[k] = AssetColumns(k, r["how"], r["edges"], mid)
        else:
            missing.append(k)
    if project is None or not missing:
        return out
    g = project.graph
    wanted = [k for k in missing if k in g.defs and g.defs[k].kind != "source"]
    ups = {u for k in wanted for u in g.upstream[k]}
    schemas = {u: cols for u, (_, cols) in store.published(catalog, ups).items()}
    for k in wanted:
        computed = _compute(g, k, schemas)
        if computed is None:
            continue
        mid = pub[k][0] if k in pub else None
        if mid is not None:
            store.save(catalog, mid, k, computed.edges, computed.how)
        out[k] = AssetColumns(k, computed.how, computed.edges, mid)
    return out


def _compute(g: Any, key: str, schemas: Mapping[str, Any]) -> AssetColumns | None:
    d = g.defs[key]
    if d.kind == "sql":
        from assets_core.sql.column_lineage import column_edges

        return AssetColumns(
            key, "sql", column_edges(d.sql, d.dialect, d.ins, schemas, key=key), None
        )
    declared = getattr(d, "columns", None)
    if not declared:
        return None
    return AssetColumns(key, "declared", resolve_declared(g, key, declared, schemas), None)


def resolve_declared(
    g: Any, key: str, declared: Mapping[str, Sequence[str]], schemas: Mapping[str, Any]
) -> dict[str, list[tuple[str, str]]]:
    """``columns={"roas": ["journey.revenue", "spend"]}`` as [(upstream key, column)] lists.

    A qualifier is a parameter name or an upstream key; a bare column is the one
    upstream whose recorded columns have it (or the only upstream there is).
    """
    d = g.defs[key]
    params = dict(g.inputs[key])
    ups = list(g.upstream[key])
    where = str(d.location)
    out: dict[str, list[tuple[str, str]]] = {}
    for col, sources in declared.items():
        found: list[tuple[str, str]] = []
        for src in sources:
            qual, _, name = src.rpartition(".")
            if qual:
                up = params.get(qual) or (qual if qual in ups else None)
                if up is None:
                    raise DefinitionError(
                        f"asset {key}: columns={{{col!r}: [{src!r}]}}: {qual!r} is neither a "
                        "parameter nor an upstream of the asset",
                        key=key,
                        location=where,
                        hint="qualify with a parameter name: " + ", ".join(params),
                    )
                found.append((up, name))
                continue
            having = [u for u in ups if any(c == name for c, _ in schemas.get(u, ()))]
            if len(having) == 1 or (not having and len(ups) == 1):
                found.append((having[0] if having else ups[0], name))
                continue
            raise DefinitionError(
                f"asset {key}: columns={{{col!r}: [{src!r}]}}: "
                + (
                    f"several upstreams have a column {name!r}: {', '.join(having)}"
                    if having
                    else f"no upstream is known to have a column {name!r}"
                ),
                key=key,
                location=where,
                hint=f"qualify it with a parameter: e.g. {next(iter(params), 'param')}.{name}",
            )
        out[col] = sorted(set(found))
    return out


def render_text(node: ColumnNode) -> str:
    """The tree as indented lines: ``bi/roas.revenue (sql)`` then its upstream columns."""
    lines = [_label(node)]

    def add(n: ColumnNode, prefix: str) -> None:
        for i, u in enumerate(n.upstream):
            last = i == len(n.upstream) - 1
            lines.append(prefix + ("└── " if last else "├── ") + _label(u))
            add(u, prefix + ("    " if last else "│   "))

    add(node, "")
    return "\n".join(lines)


def _label(n: ColumnNode) -> str:
    how = f", {n.how}" if n.how and n.how != n.kind else ""
    note = f"  -- {n.note}" if n.note else ""
    return f"{n.key}.{n.column}  ({n.kind}{how}){note}"
