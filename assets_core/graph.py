"""The asset graph: built once from definitions, validated, kept as plain dicts.

Validation reports, as one paragraph each: duplicate keys (both locations), an
asset that redefines a source, unknown upstreams (with the closest keys),
ambiguous parameter names, and cycles (with their path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from assets_core.checks.definition import Check, CheckDef
from assets_core.definitions import Definition, SourceDef
from assets_core.errors import (
    CycleError,
    DefinitionError,
    DuplicateKeyError,
    UnknownUpstreamError,
    closest,
)


@dataclass(frozen=True, slots=True)
class Graph:
    """A validated asset graph.

    ``order`` lists every key (sources first where possible) so that each key
    comes after its upstreams. ``inputs[key]`` maps each parameter to the key it
    reads; ``upstream[key]`` holds data upstreams, ``order_deps[key]`` the
    order-only ones, ``downstream[key]`` the keys that read or follow it.
    """

    defs: Mapping[str, Definition]
    order: tuple[str, ...]
    inputs: Mapping[str, tuple[tuple[str, str], ...]]
    upstream: Mapping[str, tuple[str, ...]]
    order_deps: Mapping[str, tuple[str, ...]]
    downstream: Mapping[str, tuple[str, ...]]
    checks: Mapping[str, tuple[Check, ...]] = field(default_factory=dict)
    source_keys: tuple[str, ...] = ()  # the sources, in order (see ``sources``)

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, key: object) -> bool:
        return key in self.defs

    @property
    def assets(self) -> list[str]:
        return [k for k in self.order if self.defs[k].kind != "source"]

    @property
    def sources(self) -> tuple[str, ...]:
        return self.source_keys

    def is_source(self, key: str) -> bool:
        return self.defs[key].kind == "source"

    def all_upstream(self, key: str) -> tuple[str, ...]:
        """Data and order-only upstreams of ``key``."""
        return self.upstream[key] + self.order_deps[key]

    def checks_of(self, key: str) -> tuple[Check, ...]:
        return self.checks.get(key, ())

    @classmethod
    def build(cls, definitions: Iterable[Definition], checks: Iterable[CheckDef] = ()) -> Graph:
        # one pass per concern over plain dicts and tuples: a load builds this for
        # every asset of the project, thousands of times a second would not be rare
        defs: dict[str, Definition] = {}
        for d in definitions:
            prev = defs.get(d.key)
            if prev is not None:
                if prev is d:
                    continue
                _raise_duplicate(prev, d)
            defs[d.key] = d
        names: dict[str, list[str]] = {}  # by the last part of the key, built when needed

        def by_name() -> dict[str, list[str]]:
            if not names:
                for k in defs:
                    names.setdefault(k.rsplit("/", 1)[-1], []).append(k)
            return names

        inputs: dict[str, tuple[tuple[str, str], ...]] = {}
        upstream: dict[str, tuple[str, ...]] = {}
        order_deps: dict[str, tuple[str, ...]] = {}
        none: tuple[str, ...] = ()
        self_loops: list[str] = []
        has_checks = False
        has = defs.__contains__
        sources: list[str] = []
        for k, d in defs.items():
            if isinstance(d, SourceDef):
                inputs[k] = upstream[k] = order_deps[k] = none
                sources.append(k)  # no upstreams: in order as in definitions
                continue
            ins, params = d.ins, d.params
            if not ins and d.kind == "python" and k not in params and all(map(has, params)):
                # each parameter names a key (the common case): nothing to resolve, and a
                # function's parameter names are distinct, so they are the upstreams
                inputs[k] = tuple(zip(params, params, strict=True))
                upstream[k] = ups = params
            else:
                pairs = [(p, _resolve(k, ins, d.location, p, defs, by_name())) for p in params]
                ups = tuple(dict.fromkeys([u for _, u in pairs])) if pairs else none
                inputs[k], upstream[k] = tuple(pairs), ups
            if d.deps:
                for dep in d.deps:
                    if dep not in defs:
                        raise UnknownUpstreamError(
                            f"asset {k}: deps= names {dep!r}, which is not a known asset or source",
                            key=k,
                            location=str(d.location),
                            hint=_did_you_mean(dep, defs, k),
                        )
                order_deps[k] = tuple(x for x in dict.fromkeys(d.deps) if x not in ups)
            else:
                order_deps[k] = none
            if k in ups or k in order_deps[k]:
                self_loops.append(k)
            if not has_checks and getattr(d, "checks", None):
                has_checks = True
        if self_loops:
            k = self_loops[0]
            raise CycleError([k, k], [str(defs[k].location)] * 2)

        custom = tuple(checks)
        bound = (
            _bind_checks(defs, by_name() if custom else {}, custom) if has_checks or custom else {}
        )
        if bound:
            _order_check_reads(bound, upstream, order_deps)
        order, down = _toposort(defs, upstream, order_deps)
        return cls(
            defs=defs,
            order=order,
            inputs=inputs,
            upstream=upstream,
            order_deps=order_deps,
            downstream={k: tuple(v) for k, v in down.items()},
            checks=bound,
            source_keys=tuple(sources),
        )


def _raise_duplicate(a: Definition, b: Definition) -> None:
    if a.kind == "source" or b.kind == "source":
        src, other = (a, b) if a.kind == "source" else (b, a)
        if other.kind != "source":
            raise DuplicateKeyError(
                f"{src.key} is declared as a source at {src.location} and produced as an "
                f"asset at {other.location}; a source is data the project reads, not produces",
                key=src.key,
                hint="rename the asset, or remove the source() if the project now produces it",
            )
    raise DuplicateKeyError(
        f"key {a.key} is defined twice: at {a.location} and at {b.location}",
        key=a.key,
        hint="rename one of them, or give one a key_prefix=",
    )


def _did_you_mean(name: str, defs: Mapping[str, Definition], owner: str | None = None) -> str:
    near = closest(name, [k for k in defs if k != owner])  # never "read yourself"
    if near:
        return "did you mean " + ", ".join(near) + "?"
    return "declare it with @asset or source(), or fix the name"


def _resolve(
    owner: str,
    ins: Mapping[str, str],
    location: object,
    param: str,
    defs: Mapping[str, Definition],
    by_name: Mapping[str, list[str]],
    what: str = "asset",
) -> str:
    explicit = ins.get(param)
    if explicit is not None:
        if explicit not in defs:
            raise UnknownUpstreamError(
                f"{what} {owner}: parameter {param!r} reads {explicit!r} (ins=), "
                "which is not a known asset or source",
                key=owner,
                location=str(location),
                hint=_did_you_mean(explicit, defs, owner),
            )
        return explicit
    if param in defs and param != owner:
        return param
    cands = [c for c in by_name.get(param, ()) if c != owner]
    if len(cands) == 1:
        return cands[0]
    if len(cands) > 1:
        prefix = owner.rsplit("/", 1)[0] if "/" in owner else ""
        same = [c for c in cands if prefix and c.rsplit("/", 1)[0] == prefix]
        if len(same) == 1:
            return same[0]
        raise DefinitionError(
            f"{what} {owner}: parameter {param!r} could name any of " + ", ".join(sorted(cands)),
            key=owner,
            location=str(location),
            hint=f'say which with ins={{"{param}": "{sorted(cands)[0]}"}}',
        )
    raise UnknownUpstreamError(
        f"{what} {owner}: parameter {param!r} names no known asset or source",
        key=owner,
        location=str(location),
        hint=_did_you_mean(param, defs, owner)
        + " (parameters name upstreams by the last part of their key, or map with ins=)",
    )


def _bind_checks(
    defs: Mapping[str, Definition],
    by_name: Mapping[str, list[str]],
    custom: Iterable[CheckDef],
) -> dict[str, tuple[Check, ...]]:
    """Attach built-in and custom checks to their assets, validating what they read."""
    out: dict[str, list[Check]] = {}
    for key, d in defs.items():
        for spec in getattr(d, "checks", ()):
            if spec.to is not None and spec.to not in defs:
                raise UnknownUpstreamError(
                    f"asset {key}: check {spec.name} refers to {spec.to!r}, "
                    "which is not a known asset or source",
                    key=key,
                    location=str(spec.location or d.location),
                    hint=_did_you_mean(spec.to, defs),
                )
            inputs: tuple[tuple[str, str], ...] = ((key.rsplit("/", 1)[-1], key),)
            if spec.to is not None:
                inputs += (("to", spec.to),)
            out.setdefault(key, []).append(
                Check(
                    asset=key,
                    name=spec.name,
                    blocking=spec.blocking,
                    spec=spec,
                    fn=None,
                    inputs=inputs,
                    location=spec.location,
                )
            )
    for cd in custom:
        target = defs.get(cd.asset)
        if target is None or isinstance(target, SourceDef):
            raise UnknownUpstreamError(
                f"check {cd.name} is declared on {cd.asset!r}, which is not a known asset",
                key=cd.asset,
                location=str(cd.location),
                hint=_did_you_mean(cd.asset, defs),
            )
        own = cd.asset.rsplit("/", 1)[-1]
        first = cd.params[0]
        self_param = own if own in cd.params and own not in cd.ins else first
        inputs = []
        for p in cd.params:
            if p == self_param and p not in cd.ins:
                inputs.append((p, cd.asset))
            else:
                inputs.append(
                    (p, _resolve(cd.asset, cd.ins, cd.location, p, defs, by_name, what="check on"))
                )
        out.setdefault(cd.asset, []).append(
            Check(
                asset=cd.asset,
                name=cd.name,
                blocking=cd.blocking,
                spec=None,
                fn=cd.fn,
                inputs=tuple(inputs),
                location=cd.location,
            )
        )
    for key, checks in out.items():
        seen: dict[str, Check] = {}
        for c in checks:
            if c.name in seen:
                raise DuplicateKeyError(
                    f"asset {key} has two checks named {c.name!r}: at {seen[c.name].location} "
                    f"and at {c.location}",
                    key=key,
                    hint="give one of them name=...",
                )
            seen[c.name] = c
    return {k: tuple(v) for k, v in out.items()}


def _order_check_reads(
    checks: Mapping[str, tuple[Check, ...]],
    upstream: Mapping[str, tuple[str, ...]],
    order_deps: dict[str, tuple[str, ...]],
) -> None:
    """Run the assets a check reads before the asset it checks, where the graph allows.

    Such an edge orders the run (and shows in lineage) but never makes the checked
    asset stale. When the read asset is downstream of the checked one, the check
    reads its published value instead of forming a cycle.
    """
    down: dict[str, list[str]] = {}
    for k in upstream:
        for u in upstream[k] + order_deps[k]:
            down.setdefault(u, []).append(k)
    for key, cs in checks.items():
        for c in cs:
            for r in c.reads:
                if r == key or r in upstream[key] or r in order_deps[key]:
                    continue
                if _reaches(key, r, down):
                    continue  # r is downstream of key: the check reads r's published value
                order_deps[key] = order_deps[key] + (r,)
                down.setdefault(r, []).append(key)


def _reaches(start: str, target: str, down: Mapping[str, list[str]]) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        for n in down.get(stack.pop(), ()):
            if n == target:
                return True
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return False


def _toposort(
    defs: Mapping[str, Definition],
    upstream: Mapping[str, tuple[str, ...]],
    order_deps: Mapping[str, tuple[str, ...]],
) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """Every key after its upstreams, and the keys that read or follow each key (in
    definition order)."""
    indeg: dict[str, int] = {}
    down: dict[str, list[str]] = {k: [] for k in defs}
    for k in defs:
        ups, deps = upstream[k], order_deps[k]
        indeg[k] = len(ups) + len(deps)
        for u in ups:
            down[u].append(k)
        for u in deps:
            down[u].append(k)
    out = [k for k, n in indeg.items() if n == 0]  # also the queue: out[i:] is still to visit
    i = 0
    while i < len(out):
        for d in down[out[i]]:
            n = indeg[d] - 1
            indeg[d] = n
            if n == 0:
                out.append(d)
        i += 1
    if len(out) < len(defs):
        left = {k for k in defs if indeg[k] > 0}
        path = _find_cycle(left, upstream, order_deps)
        raise CycleError(path, [str(defs[k].location) for k in path])
    return tuple(out), down


def _find_cycle(
    nodes: set[str],
    upstream: Mapping[str, tuple[str, ...]],
    order_deps: Mapping[str, tuple[str, ...]],
) -> list[str]:
    """A cycle among ``nodes`` as a path a -> b -> ... -> a (in data-flow order)."""
    start = min(nodes)
    seen: dict[str, int] = {}
    path: list[str] = []
    k = start
    while k not in seen:
        seen[k] = len(path)
        path.append(k)
        k = next(u for u in upstream[k] + order_deps[k] if u in nodes)
    cyc = path[seen[k] :] + [k]
    cyc.reverse()  # we walked upstream; report in the direction data flows
    return cyc
