"""Lineage: the asset graph around a key, as text, JSON, DOT, SVG or PNG.

A :class:`LineageView` is a plain value: the nodes (each with its kind, group and
status from :mod:`assets_core.status`) and the edges chosen by a selection and
depth limits. Renderers turn it into an indented tree, JSON for other tools, or a
graphviz drawing: nodes coloured by status, shaped by kind, clustered by group
and labelled with their key and the age of their last update.

DOT is written by the ``graphviz`` package without the ``dot`` program; SVG and
PNG need ``dot`` (Debian/Ubuntu: ``apt-get install graphviz``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assets_core.durations import format_duration
from assets_core.errors import AssetsError, MissingExtraError

if TYPE_CHECKING:
    from assets_core.graph import Graph
    from assets_core.status import AssetStatus

FORMATS = ("text", "json", "dot", "svg", "png")

# Fill colours by status; the border is a darker shade of the same hue.
STATUS_COLOURS: Mapping[str, tuple[str, str]] = {
    "fresh": ("#c8e6c9", "#2e7d32"),
    "stale": ("#ffe082", "#b28704"),
    "failed": ("#ef9a9a", "#c62828"),
    "failed_checks": ("#f48fb1", "#ad1457"),
    "quarantined": ("#ce93d8", "#6a1b9a"),
    "overdue": ("#ffab91", "#d84315"),
    "never": ("#eeeeee", "#757575"),
    "blocked": ("#ffccbc", "#bf360c"),
    "source": ("#bbdefb", "#1565c0"),
    "unobservable": ("#cfd8dc", "#b71c1c"),
    # checks: the latest result on the checked asset
    "passed": ("#c8e6c9", "#2e7d32"),
    "warned": ("#ffe082", "#b28704"),
}
# Shape by kind: adding a kind of node is one entry here.
KIND_SHAPES: Mapping[str, Mapping[str, str]] = {
    "python": {"shape": "box", "style": "rounded,filled"},
    "sql": {"shape": "component", "style": "filled"},
    "source": {"shape": "cylinder", "style": "filled"},
    "check": {"shape": "hexagon", "style": "filled"},
}
_DEFAULT_SHAPE = {"shape": "box", "style": "filled"}
NO_COLUMNS_NOTE = (
    "no column-level lineage is recorded for these assets yet "
    "(it is recorded when SQL assets are materialized, or declared on Python assets)"
)


class LineageError(AssetsError):
    """A lineage drawing cannot be produced (e.g. graphviz's ``dot`` is missing)."""


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    kind: str
    group: str
    status: str
    updated_at: float | None

    def age(self, now: float) -> str:
        if self.kind == "check":
            return self.status
        if self.updated_at is None:
            return "never"
        return format_duration(max(0.0, now - self.updated_at)) + " ago"


@dataclass(frozen=True, slots=True)
class Edge:
    upstream: str
    downstream: str
    order_only: bool = False


@dataclass(frozen=True, slots=True)
class ColumnEdge:
    """Column ``upstream_column`` of ``upstream`` feeds ``column`` of ``downstream``."""

    upstream: str
    upstream_column: str
    downstream: str
    column: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LineageView:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    focus: str | None
    now: float
    column_edges: tuple[ColumnEdge, ...] | None = None  # None: columns not asked for
    # (upstream, downstream) depth limits around the focus; None: no limit
    depths: tuple[int | None, int | None] = (None, None)
    # key -> (upstream, downstream) neighbours left out by the depth limits
    hidden: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    _by_key: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_key.update((n.key, n) for n in self.nodes)

    def node(self, key: str) -> Node:
        return self._by_key[key]

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "focus": self.focus,
            "nodes": [
                {
                    "id": node_id(n.key),
                    "key": n.key,
                    "kind": n.kind,
                    "group": n.group,
                    "status": n.status,
                    "updated_at": n.updated_at,
                    "age": n.age(self.now),
                }
                for n in self.nodes
            ],
            "edges": [
                {
                    "from": e.upstream,
                    "to": e.downstream,
                    "kind": "order" if e.order_only else "data",
                }
                for e in self.edges
            ],
        }
        if self.column_edges is not None:
            out["columns"] = [
                {
                    "from": e.upstream,
                    "from_column": e.upstream_column,
                    "to": e.downstream,
                    "to_column": e.column,
                }
                for e in self.column_edges
            ]
            if not self.column_edges:
                out["note"] = NO_COLUMNS_NOTE
        return out


def node_id(key: str) -> str:
    """A node's id in DOT and SVG: the key with ``/`` as ``--`` (keys never hold ``-``)."""
    return key.replace("/", "--")


def neighbourhood(
    graph: Graph, start: Iterable[str], upstream: int | None, downstream: int | None
) -> set[str]:
    """``start`` with ``upstream`` levels above and ``downstream`` below (None: all, 0: none)."""
    keys = set(start)
    for edges, depth in (
        ((graph.upstream, graph.order_deps), upstream),
        ((graph.downstream,), downstream),
    ):
        if depth == 0:
            continue
        seen = set(start)
        frontier = list(seen)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            nxt = []
            for k in frontier:
                for m in edges:
                    for n in m[k]:
                        if n not in seen:
                            seen.add(n)
                            nxt.append(n)
            frontier = nxt
        keys |= seen
    return keys


def build_view(
    graph: Graph,
    statuses: Mapping[str, AssetStatus],
    keys: Iterable[str],
    *,
    focus: str | None = None,
    now: float,
    column_edges: Sequence[ColumnEdge] | None = None,
    checks: bool = False,
    depths: tuple[int | None, int | None] = (None, None),
) -> LineageView:
    """The view of ``keys`` (in graph order) with the edges between them.

    With ``checks``, each check of a shown asset is a node (kind ``check``, status its
    latest result: passed, warned, failed or never) below the asset it checks.
    ``depths`` are the limits ``keys`` were chosen with around ``focus``: the view
    counts, for each node, the neighbours they left out.
    """
    chosen = set(keys)
    nodes = []
    for k in graph.order:
        if k not in chosen:
            continue
        d = graph.defs[k]
        st = statuses.get(k)
        nodes.append(
            Node(
                key=k,
                kind=d.kind,
                group=d.group,
                status=st.status if st is not None else "never",
                updated_at=st.updated_at if st is not None else None,
            )
        )
    edges = []
    for n in nodes:
        for u in graph.upstream[n.key]:
            if u in chosen:
                edges.append(Edge(u, n.key))
        for u in graph.order_deps[n.key]:
            if u in chosen:
                edges.append(Edge(u, n.key, order_only=True))
    if checks:
        _add_checks(graph, statuses, nodes, edges)
    cols = None
    if column_edges is not None:
        cols = tuple(e for e in column_edges if e.upstream in chosen and e.downstream in chosen)
    hidden: dict[str, tuple[int, int]] = {}
    if focus is not None and depths != (None, None):
        for k in chosen:
            up = sum(1 for m in (graph.upstream, graph.order_deps) for u in m[k] if u not in chosen)
            down = sum(1 for d in graph.downstream[k] if d not in chosen)
            if up or down:
                hidden[k] = (up, down)
    return LineageView(
        nodes=tuple(nodes),
        edges=tuple(edges),
        focus=focus,
        now=now,
        column_edges=cols,
        depths=depths,
        hidden=hidden,
    )


def column_edges(catalog: Any, keys: Iterable[str], project: Any = None) -> list[ColumnEdge]:
    """The column-level edges of the published versions of ``keys``.

    With ``project``, lineage not yet recorded is computed (SQL) or resolved
    (declared on Python assets) and recorded first; without, only what is recorded.
    """
    from assets_core.lineage_columns import edges_of

    return [
        ColumnEdge(up, up_col, key, col)
        for key, info in edges_of(project, catalog, keys).items()
        for col, ups in info.edges.items()
        for up, up_col in ups
    ]


def check_key(asset: str, name: str) -> str:
    return f"{asset}#{name}"


def _add_checks(
    graph: Graph, statuses: Mapping[str, AssetStatus], nodes: list[Node], edges: list[Edge]
) -> None:
    shown = {n.key for n in nodes}
    for n in list(nodes):
        st = statuses.get(n.key)
        latest = {r["check"]: r for r in ((st.checks or {}).get("results", []) if st else [])}
        for c in graph.checks_of(n.key) if hasattr(graph, "checks_of") else ():
            r = latest.get(c.name)
            if r is None:
                status = "never"
            elif r["passed"]:
                status = "passed"
            else:
                status = "failed" if r["severity"] == "error" else "warned"
            key = check_key(n.key, c.name)
            nodes.append(Node(key, "check", n.group, status, None))
            edges.append(Edge(n.key, key, order_only=True))
            for other in c.reads:
                if other in shown:
                    edges.append(Edge(other, key, order_only=True))


# -- text ---------------------------------------------------------------------------------
def render_text(view: LineageView) -> str:
    """An indented tree upstream and downstream of the focus, or every node with its inputs."""
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for e in view.edges:
        ups.setdefault(e.downstream, []).append(e.upstream)
        downs.setdefault(e.upstream, []).append(e.downstream)

    def line(key: str) -> str:
        n = view.node(key)
        facts = [] if n.status == n.kind else [n.status]  # a source's status is "source"
        age = n.age(view.now)
        if n.kind == "source":  # its age counts from the latest observation that saw a change
            facts.append("never observed" if age == "never" else f"changed {age}")
        elif n.status == "never":
            facts = ["never materialized"]
        elif n.kind != "check":  # a check's age is its status
            facts.append("nothing published" if age == "never" else age)
        return f"{key}  [{', '.join(facts)}]" + ("" if n.kind == "python" else f" ({n.kind})")

    if view.focus is None:
        out = []
        by_group: dict[str, list[Node]] = {}
        for n in view.nodes:
            by_group.setdefault(n.group, []).append(n)
        for group in sorted(by_group):
            out.append(f"group {group}")
            for n in by_group[group]:
                src = ups.get(n.key, [])
                out.append(f"  {line(n.key)}" + (f"  <- {', '.join(src)}" if src else ""))
        return "\n".join(out)

    out = [line(view.focus)]
    for side, (title, edges) in enumerate((("upstream", ups), ("downstream", downs))):
        children = edges.get(view.focus, [])
        if children:
            out.append(f"{title}:")
        elif view.hidden.get(view.focus, (0, 0))[side]:
            out.append(f"{title}: (not shown: --{title} {view.depths[side]})")
        else:
            out.append(f"{title}: (none)")
        seen = {view.focus}

        def shown(key: str, side: int = side, title: str = title) -> str:
            more = view.hidden.get(key, (0, 0))[side] if key != view.focus else 0
            return line(key) + (f"  (+{more} more {title})" if more else "")

        _tree(children, edges, shown, "  ", seen, out)
    return "\n".join(out)


def _tree(
    keys: list[str],
    edges: Mapping[str, list[str]],
    line: Any,
    indent: str,
    seen: set[str],
    out: list[str],
) -> None:
    for i, k in enumerate(keys):
        last = i == len(keys) - 1
        again = k in seen
        out.append(
            f"{indent}{'└── ' if last else '├── '}{line(k)}{'  (see above)' if again else ''}"
        )
        if again:
            continue
        seen.add(k)
        _tree(edges.get(k, []), edges, line, indent + ("    " if last else "│   "), seen, out)


# -- graphviz -----------------------------------------------------------------------------
def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise MissingExtraError("graphviz", "lineage", "drawing lineage graphs") from None
    return graphviz


def to_dot(view: LineageView, *, title: str = "") -> str:
    """The view as DOT source (needs the graphviz package, not the ``dot`` program)."""
    graphviz = _graphviz()
    big = len(view.nodes) > 300
    g = graphviz.Digraph("lineage")
    g.attr(
        rankdir="LR",
        fontname="Helvetica",
        fontsize="12",
        label=title,
        labelloc="t",
        nodesep="0.15" if big else "0.25",
        ranksep="0.6" if big else "0.8",
        tooltip=title or "lineage",
    )
    g.attr("node", fontname="Helvetica", fontsize="10", penwidth="1.2")
    g.attr("edge", color="#777777", arrowsize="0.6")
    if view.column_edges is not None:
        _column_nodes(g, view)
        return g.source
    by_group: dict[str, list[Node]] = {}
    for n in view.nodes:
        by_group.setdefault(n.group, []).append(n)
    for group in sorted(by_group):
        with g.subgraph(name=f"cluster_{node_id(group)}") as c:
            c.attr(
                label=group,
                id=f"group--{node_id(group)}",
                style="rounded,dashed",
                color="#9e9e9e",
                fontcolor="#424242",
            )
            for n in by_group[group]:
                _node(c, n, view)
    for e in view.edges:
        attrs = {"style": "dashed"} if e.order_only else {}
        g.edge(node_id(e.upstream), node_id(e.downstream), **attrs)
    _legend(g, {n.status for n in view.nodes})
    return g.source


def _node(g: Any, n: Node, view: LineageView) -> None:
    fill, border = STATUS_COLOURS.get(n.status, STATUS_COLOURS["never"])
    shape = KIND_SHAPES.get(n.kind, _DEFAULT_SHAPE)
    focus = n.key == view.focus
    g.node(
        node_id(n.key),
        label=f"{n.key}\n{n.age(view.now)}",
        id=node_id(n.key),
        fillcolor=fill,
        color=border,
        penwidth="2.5" if focus else "1.2",
        tooltip=f"{n.key}: {n.status} ({n.kind})"
        + ("" if n.kind == "check" else f", updated {n.age(view.now)}"),
        **shape,
    )


def _legend(g: Any, statuses: set[str]) -> None:
    with g.subgraph(name="cluster_legend") as c:
        c.attr(label="status", id="legend", style="rounded", color="#bdbdbd")
        for status in STATUS_COLOURS:
            if status in statuses:
                fill, border = STATUS_COLOURS[status]
                c.node(
                    f"legend--{status}",
                    label=status,
                    id=f"legend--{status}",
                    shape="box",
                    style="rounded,filled",
                    fillcolor=fill,
                    color=border,
                    fontsize="9",
                )


def _column_nodes(g: Any, view: LineageView) -> None:
    """Each asset as a table of its columns; edges join columns."""
    from html import escape

    edges = view.column_edges or ()
    if not edges:
        g.node("note", label=NO_COLUMNS_NOTE, id="note", shape="note", fontsize="11")
        return
    columns: dict[str, list[str]] = {}
    for e in edges:
        for key, col in ((e.upstream, e.upstream_column), (e.downstream, e.column)):
            cols = columns.setdefault(key, [])
            if col not in cols:
                cols.append(col)
    for key, cols in columns.items():
        n = view.node(key) if key in view else None
        fill, border = STATUS_COLOURS.get(n.status if n else "never", STATUS_COLOURS["never"])
        # ports are numbered: column names may hold characters DOT ports cannot
        rows = "".join(
            f'<TR><TD PORT="c{i}" ALIGN="LEFT">{escape(c)}</TD></TR>' for i, c in enumerate(cols)
        )
        label = (
            f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" COLOR="{border}">'
            f'<TR><TD BGCOLOR="{fill}"><B>{escape(key)}</B></TD></TR>{rows}</TABLE>>'
        )
        g.node(node_id(key), label=label, id=node_id(key), shape="plaintext")
    for e in edges:
        up = columns[e.upstream].index(e.upstream_column)
        down = columns[e.downstream].index(e.column)
        g.edge(f"{node_id(e.upstream)}:c{up}", f"{node_id(e.downstream)}:c{down}")


def render_image(dot_source: str, fmt: str) -> bytes:
    """Lay out ``dot_source`` with graphviz's ``dot`` program as ``svg`` or ``png``."""
    graphviz = _graphviz()
    try:
        return graphviz.Source(dot_source).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise LineageError(
            f"drawing {fmt.upper()} needs graphviz's 'dot' program, which is not installed",
            hint="install graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew "
            "install graphviz), or write DOT with --format dot, which needs no program",
        ) from None
    except graphviz.CalledProcessError as e:
        raise LineageError(
            f"graphviz's dot failed to draw the graph: {e.stderr.decode(errors='replace')}"
        ) from None
