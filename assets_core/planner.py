"""The planner: which assets are stale, and why. A pure function returning a Plan.

``plan(graph, state, ...)`` reads nothing and writes nothing: the catalog state,
the current code versions and the current source versions come in as values.
Its cost grows with the size of the graph, never with the length of history.

Reason kinds are stable strings, part of the public interface (``plan --json``):
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any

from assets_core.catalog.state import AssetState, CatalogState
from assets_core.code_cache import CodeVersions
from assets_core.code_version import CodeVersion, diff_parts
from assets_core.graph import Graph

NEVER_MATERIALIZED = "never_materialized"
CODE_CHANGED = "code_changed"
UPSTREAM_CHANGED = "upstream_changed"
UPSTREAM_WILL_CHANGE = "upstream_will_change"
SOURCE_CHANGED = "source_changed"
LAST_ATTEMPT_FAILED = "last_attempt_failed"
FORCED = "forced"
CHECKS_CHANGED = "checks_changed"  # only the checks changed: re-run them, do not recompute
# not a reason to run: why an asset cannot be planned (Plan.blocked)
SOURCE_UNOBSERVABLE = "source_unobservable"
REASON_KINDS = (
    NEVER_MATERIALIZED,
    CODE_CHANGED,
    UPSTREAM_CHANGED,
    UPSTREAM_WILL_CHANGE,
    SOURCE_CHANGED,
    LAST_ATTEMPT_FAILED,
    FORCED,
    CHECKS_CHANGED,
)


@dataclass(frozen=True, slots=True)
class Reason:
    kind: str
    detail: str
    upstream: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "detail": self.detail}
        if self.upstream is not None:
            d["upstream"] = self.upstream
        return d


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    reasons: tuple[Reason, ...]

    @property
    def checks_only(self) -> bool:
        """True when only the asset's checks changed: audit the published value again."""
        return all(r.kind == CHECKS_CHANGED for r in self.reasons)

    def only_waits_on_upstreams(self) -> bool:
        """True when the step runs only because upstreams in this plan will change."""
        return all(r.kind == UPSTREAM_WILL_CHANGE for r in self.reasons)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What a run will materialize, in order, each step with its reasons."""

    steps: tuple[Step, ...]
    selected: frozenset[str]
    fresh: tuple[str, ...]  # selected assets that are up to date
    stale: Mapping[str, tuple[Reason, ...]] = field(repr=False)  # every stale asset in the graph
    source_versions: Mapping[str, str] = field(repr=False)
    now: float
    # sources whose observe= function failed (key -> its error), and the selected assets
    # that read one: whether they are stale cannot be told, and they cannot run
    unobservable: Mapping[str, str] = field(default_factory=dict, repr=False)
    blocked: Mapping[str, str] = field(default_factory=dict)  # asset -> source it reads

    def blocked_reason(self, key: str) -> str:
        """``source_unobservable: <the source's error>`` for a blocked asset."""
        source = self.blocked[key]
        return f"{SOURCE_UNOBSERVABLE}: {self.unobservable[source]}"

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.steps]

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "steps": [
                {"key": s.key, "reasons": [r.as_dict() for r in s.reasons]} for s in self.steps
            ],
            "fresh": list(self.fresh),
        }
        if self.blocked:
            d["blocked"] = [
                {"key": k, "kind": SOURCE_UNOBSERVABLE, "source": s, "detail": self.unobservable[s]}
                for k, s in self.blocked.items()
            ]
        return d


def plan(
    graph: Graph,
    state: CatalogState,
    *,
    code_versions: Mapping[str, CodeVersion],
    source_versions: Mapping[str, str],
    selection: frozenset[str] | None = None,
    force: bool = False,
    now: float = 0.0,
    check_versions: Mapping[str, CodeVersion] | None = None,
    unobservable: Mapping[str, str] | None = None,
) -> Plan:
    """Decide, for every asset of ``graph``, whether it is stale and why.

    ``selection`` limits the steps (``None``: every asset); an upstream outside the
    selection is read as it is published now and never makes a step of its own.
    ``source_versions`` holds the sources observed for this plan (at least those the
    selected assets read); a source missing from it counts as unchanged.
    ``unobservable`` maps each source that could not be observed to its error: a
    selected asset reading one is ``blocked`` (neither a step nor fresh), and what
    reads that asset takes it as it is published now.
    """
    selected = frozenset(graph.defs) if selection is None else selection
    assets = state.assets
    stale: dict[str, tuple[Reason, ...]] = {}
    will_run: set[str] = set()
    steps: list[Step] = []
    fresh: list[str] = []
    blocked: dict[str, str] = {}
    down = unobservable or {}
    items = _input_items(graph, assets, source_versions)
    defs, upstream = graph.defs, graph.upstream
    versions = CodeVersions.of(code_versions)
    version_texts = versions.texts
    for key in graph.order:
        if defs[key].kind == "source":
            continue
        if down and key in selected:
            cut = next((u for u in upstream[key] if u in down), None)
            if cut is not None:
                blocked[key] = cut
                continue
        st = assets.get(key)
        ups = upstream[key]
        if (
            st is not None
            and st.data_version is not None  # published
            and st.last_status not in _RETRY_STATUSES
            and st.code_version == version_texts[key]
            and (
                not ups
                or (will_run.isdisjoint(ups) and st.input_versions_json == _inputs_text(ups, items))
            )
        ):
            # up to date: what _reasons would find, comparing the recorded input versions
            # as text with what the current ones give (any other text is decoded there)
            reasons: tuple[Reason, ...] = ()
        else:
            reasons = _reasons(key, graph, st, assets, versions, source_versions, will_run)
        in_sel = key in selected
        if force and in_sel:
            reasons = (Reason(FORCED, "--force"), *reasons)
        if not reasons and check_versions is not None:
            current = check_versions.get(key)
            if current is None and st is not None and st.checks_version is None:
                reasons = ()  # no checks then, none now (what _checks_reasons finds)
            else:
                reasons = _checks_reasons(st, current)
            if reasons:
                stale[key] = reasons
                if in_sel:
                    steps.append(Step(key, reasons))  # the data does not change: no will_run
                continue
        if reasons:
            stale[key] = reasons
            if in_sel:
                will_run.add(key)
                steps.append(Step(key, reasons))
        elif in_sel:
            fresh.append(key)
    return Plan(
        steps=tuple(steps),
        selected=selected,
        fresh=tuple(fresh),
        stale=stale,
        source_versions=dict(source_versions),
        now=now,
        unobservable=dict(down),
        blocked=blocked,
    )


_RETRY_STATUSES = ("failed", "timed_out", "quarantined")


def _input_items(
    graph: Graph, assets: Mapping[str, AssetState], source_versions: Mapping[str, str]
) -> dict[str, str]:
    """``'"key": "version"'`` for each key whose current version is known.

    The executor records an asset's input versions as ``json.dumps({upstream: data
    version})`` in the order of ``graph.upstream``; joined in that order, these items
    give the text an up-to-date asset has recorded (see :func:`_inputs_text`).
    """
    out = {
        k: f"{_json_str(k)}: {_json_str(st.data_version)}"
        for k, st in assets.items()
        if type(st.data_version) is str
    }
    for k in graph.sources:  # a source's version is observed, never in asset_state
        v = source_versions.get(k)
        if type(v) is str:
            out[k] = f"{_json_str(k)}: {_json_str(v)}"
        else:
            out.pop(k, None)
    return out


def _inputs_text(ups: tuple[str, ...], items: Mapping[str, str]) -> str | None:
    """The recorded input versions of an asset whose upstreams ``ups`` did not change
    (None when one has no current version: the planner then decodes what was recorded)."""
    try:
        return "{" + ", ".join([items[u] for u in ups]) + "}"
    except KeyError:
        return None


def _reasons(
    key: str,
    graph: Graph,
    st: AssetState | None,
    assets: Mapping[str, AssetState],
    code_versions: CodeVersions,
    source_versions: Mapping[str, str],
    will_run: set[str],
) -> tuple[Reason, ...]:
    out: list[Reason] = []
    if st is not None and st.last_status in ("failed", "timed_out"):
        out.append(Reason(LAST_ATTEMPT_FAILED, "the latest attempt failed"))
    elif st is not None and st.last_status == "quarantined":
        out.append(Reason(LAST_ATTEMPT_FAILED, "the latest version was quarantined by its checks"))
    if st is None or not st.published:
        out.insert(0, Reason(NEVER_MATERIALIZED, "no published version yet"))
        return tuple(out)
    if st.code_version != code_versions.texts[key]:
        code = code_versions[key]  # with its parts: read only here (see CodeVersions)
        what = diff_parts(st.code_parts, code.as_mapping(), code.format)
        out.append(Reason(CODE_CHANGED, "; ".join(what)))
    recorded = st.input_versions
    for up in graph.upstream[key]:
        old = recorded.get(up)
        if graph.is_source(up):
            if up not in source_versions:
                continue  # not observed for this plan: read by no selected asset
            new = source_versions[up]
            if new != old:
                out.append(
                    Reason(SOURCE_CHANGED, f"{up}: {_short(old)} -> {_short(new)}", upstream=up)
                )
        elif up in will_run:
            out.append(Reason(UPSTREAM_WILL_CHANGE, f"{up} is in this plan", upstream=up))
        else:
            ust = assets.get(up)
            new = ust.data_version if ust is not None else None
            if new != old and new is not None:
                out.append(
                    Reason(UPSTREAM_CHANGED, f"{up}: {_short(old)} -> {_short(new)}", upstream=up)
                )
    return tuple(out)


def _checks_reasons(st: AssetState | None, current: CodeVersion | None) -> tuple[Reason, ...]:
    if st is None or not st.published:
        return ()
    if (current.version if current else None) == st.checks_version:
        return ()
    if current is None:
        return (Reason(CHECKS_CHANGED, "every check was removed"),)
    what = diff_parts(st.checks_parts, current.as_mapping()) if st.checks_version else None
    return (Reason(CHECKS_CHANGED, "; ".join(what) if what else "checks were added"),)


def _short(v: str | None) -> str:
    return v[:12] if v else "none"


def still_needed(
    step: Step, recorded_inputs: Mapping[str, str], current: Mapping[str, str]
) -> bool:
    """Early cutoff: does ``step`` still need to run now that its upstreams ran?

    A step planned only because upstreams in the plan would change is not needed
    when each of those upstreams published the same data version it was built from.
    """
    if not step.only_waits_on_upstreams():
        return True
    return any(
        current.get(r.upstream) != recorded_inputs.get(r.upstream)  # type: ignore[arg-type]
        for r in step.reasons
    )


def reasons_json(reasons: tuple[Reason, ...]) -> str:
    """``json.dumps([r.as_dict() for r in reasons])``, made from each reason's text (a
    run records one per asset)."""
    return "[" + ", ".join([_reason_json(r) for r in reasons]) + "]"


def _reason_json(r: Reason) -> str:
    up = "" if r.upstream is None else f', "upstream": {_json_str(r.upstream)}'
    return f'{{"kind": {_json_str(r.kind)}, "detail": {_json_str(r.detail)}{up}}}'
