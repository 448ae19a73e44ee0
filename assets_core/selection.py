"""Selections in the syntax data people know from dbt.

=============  ===========================================================
``key``        one asset (its full key, or its name when that is unique)
``bi/*``       keys matching a glob
``key+``       the asset and everything downstream (``key+1``: one level)
``+key``       the asset and everything upstream (``2+key``: two levels)
``group:bi``   every asset in a group; ``tag:pii`` every asset with a tag
``a b``        union (space-separated)
``a,b``        intersection (comma-separated, no spaces)
=============  ===========================================================

>>> from assets_core.definitions import asset
>>> @asset
... def a(): ...
>>> @asset(tags=["pii"])
... def b(a): ...
>>> @asset
... def c(b): ...
>>> g = Graph.build([a.__asset_def__, b.__asset_def__, c.__asset_def__])
>>> sorted(select(g, "a+1"))
['a', 'b']
>>> sorted(select(g, "+c,tag:pii"))
['b']
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

from assets_core.errors import SelectionError, closest
from assets_core.graph import Graph

SYNTAX = (
    "selection syntax: KEY | NAME | GLOB | KEY+ | +KEY | N+KEY | KEY+N | group:G | tag:T; "
    "space = union, comma = intersection (e.g. 'group:bi,tag:pii +bi/roas_daily')"
)
_ATOM = re.compile(r"^(?:(\d*)\+)?([^+]+?)(?:\+(\d*))?$")


def select(graph: Graph, selection: str | Iterable[str] | None) -> frozenset[str]:
    """The keys ``selection`` names in ``graph``; ``None`` or empty selects everything."""
    if selection is None:
        return frozenset(graph.defs)
    terms = (
        selection.split()
        if isinstance(selection, str)
        else [t for s in selection for t in s.split()]
    )
    if not terms:
        return frozenset(graph.defs)
    out: set[str] = set()
    for term in terms:
        parts = term.split(",")
        if any(not p for p in parts):
            raise SelectionError(f"empty part in selection {term!r}", hint=SYNTAX)
        acc = _atom(graph, parts[0])
        for p in parts[1:]:
            acc &= _atom(graph, p)
        out |= acc
    return frozenset(out)


def _atom(graph: Graph, text: str) -> set[str]:
    m = _ATOM.match(text)
    if not m:
        raise SelectionError(f"cannot read selection {text!r}", hint=SYNTAX)
    up_n, body, down_n = m.group(1), m.group(2), m.group(3)
    up, down = up_n is not None, down_n is not None
    base = _base(graph, body)
    result = set(base)
    if up:
        result |= _walk(base, graph.upstream, graph.order_deps, _depth(up_n))
    if down:
        result |= _walk(base, graph.downstream, None, _depth(down_n))
    return result


def _depth(n: str | None) -> int | None:
    return int(n) if n else None


def _base(graph: Graph, body: str) -> set[str]:
    if ":" in body:
        method, _, value = body.partition(":")
        if method == "group":
            found = {k for k, d in graph.defs.items() if d.group == value}
            known = {d.group for d in graph.defs.values()}
        elif method == "tag":
            found = {k for k, d in graph.defs.items() if value in d.tags}
            known = {t for d in graph.defs.values() for t in d.tags}
        elif method == "kind":
            found = {k for k, d in graph.defs.items() if d.kind == value}
            known = {d.kind for d in graph.defs.values()}
        else:
            raise SelectionError(f"unknown selection method {method!r} in {body!r}", hint=SYNTAX)
        if not found:
            near = closest(value, known)
            raise SelectionError(
                f"{body!r} selects nothing: no {method} named {value!r}",
                hint=("did you mean " + ", ".join(f"{method}:{n}" for n in near) + "?")
                if near
                else f"known {method}s: " + ", ".join(sorted(known)[:10]),
            )
        return found
    if any(ch in body for ch in "*?["):
        found = set(fnmatch.filter(graph.defs, body))
        if not found:
            raise SelectionError(f"{body!r} matches no key", hint=SYNTAX)
        return found
    if body in graph.defs:
        return {body}
    named = [k for k in graph.defs if k.rsplit("/", 1)[-1] == body]
    if len(named) == 1:
        return set(named)
    if len(named) > 1:
        raise SelectionError(
            f"{body!r} could be any of " + ", ".join(sorted(named)), hint="use the full key"
        )
    near = closest(body, graph.defs)
    raise SelectionError(
        f"no asset or source named {body!r}",
        hint=("did you mean " + ", ".join(near) + "?") if near else SYNTAX,
    )


def _walk(
    start: Iterable[str],
    edges: Mapping[str, tuple[str, ...]],
    extra: Mapping[str, tuple[str, ...]] | None,
    depth: int | None,
) -> set[str]:
    seen = set(start)
    frontier = list(seen)
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        nxt = []
        for k in frontier:
            for n in edges[k] + (extra[k] if extra is not None else ()):
                if n not in seen:
                    seen.add(n)
                    nxt.append(n)
        frontier = nxt
    return seen
