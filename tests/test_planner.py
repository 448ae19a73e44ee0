"""The planner is a pure function of (graph, catalog state, code and source versions).

The graph used here:

    raw/orders (source) -> clean -> report
    base -----------------> mid ---> top
    alone
"""

from __future__ import annotations

import json
import random

import pytest

from assets_core import asset, source
from assets_core.catalog.state import AssetState, CatalogState, versions_json
from assets_core.code_version import CodePart, CodeVersion
from assets_core.graph import Graph
from assets_core.planner import (
    CODE_CHANGED,
    FORCED,
    LAST_ATTEMPT_FAILED,
    NEVER_MATERIALIZED,
    REASON_KINDS,
    SOURCE_CHANGED,
    SOURCE_UNOBSERVABLE,
    UPSTREAM_CHANGED,
    UPSTREAM_WILL_CHANGE,
    Plan,
    Reason,
    Step,
    plan,
    reasons_json,
    still_needed,
)


def _graph() -> Graph:
    orders = source("raw/orders", path="data/*.csv")

    @asset
    def clean(orders):
        return orders

    @asset
    def report(clean):
        return clean

    @asset
    def base():
        return 1

    @asset
    def mid(base):
        return base

    @asset
    def top(mid):
        return mid

    @asset
    def alone():
        return 1

    fns = (clean, report, base, mid, top, alone)
    return Graph.build([orders, *(f.__asset_def__ for f in fns)])


G = _graph()
ASSETS = ("clean", "report", "base", "mid", "top", "alone")
SOURCES = {"raw/orders": "src-v1"}


def code_version(key: str, helper_digest: str = "h1") -> CodeVersion:
    parts = (CodePart(f"defs.{key}", "defs.py", f"body-{key}"),)
    if key == "mid":
        parts += (CodePart("lib.helpers.scale", "lib/helpers.py", helper_digest),)
    return CodeVersion(version=f"code-{key}-{helper_digest}", parts=parts)


CODE = {k: code_version(k) for k in ASSETS}


def published(
    key: str,
    inputs: dict[str, str],
    *,
    data: str | None = None,
    code: CodeVersion | None = None,
    last_status: str = "success",
) -> AssetState:
    cv = code or CODE[key]
    return AssetState(
        key=key,
        data_version=data or f"data-{key}",
        code_version=cv.version,
        code_parts_json=json.dumps(cv.as_mapping()),
        input_versions_json=json.dumps(inputs),
        value_ref=f"blob:data-{key}",
        published_at=1000.0,
        last_status=last_status,
        last_attempt_at=1000.0,
        materialization_id=1,
    )


def up_to_date() -> dict[str, AssetState]:
    """Every asset published from the current code and inputs."""
    return {
        "clean": published("clean", {"raw/orders": "src-v1"}),
        "report": published("report", {"clean": "data-clean"}),
        "base": published("base", {}),
        "mid": published("mid", {"base": "data-base"}),
        "top": published("top", {"mid": "data-mid"}),
        "alone": published("alone", {}),
    }


def make_plan(assets=None, *, code=None, sources=None, **kw) -> Plan:
    return plan(
        G,
        CatalogState(assets=up_to_date() if assets is None else assets, sources={}),
        code_versions=code or CODE,
        source_versions=sources or SOURCES,
        **kw,
    )


def reasons_of(p: Plan) -> dict[str, list[tuple[str, str]]]:
    return {s.key: [(r.kind, r.detail) for r in s.reasons] for s in p.steps}


def test_an_up_to_date_catalog_plans_nothing() -> None:
    p = make_plan()
    assert p.steps == ()
    assert len(p) == 0
    assert set(p.fresh) == set(ASSETS)
    assert dict(p.stale) == {}


def test_an_empty_catalog_plans_every_asset_in_dependency_order() -> None:
    p = make_plan(assets={})
    assert set(p.keys) == set(ASSETS)
    assert p.keys.index("clean") < p.keys.index("report")
    assert p.keys.index("base") < p.keys.index("mid") < p.keys.index("top")
    for step in p.steps:
        assert [r.kind for r in step.reasons] == [NEVER_MATERIALIZED]
        assert step.reasons[0].detail == "no published version yet"
    assert p.fresh == ()


def test_code_change_of_the_asset_itself_is_reported_with_the_part_that_changed() -> None:
    code = dict(CODE)
    new = CodeVersion(
        version="code-top-new", parts=(CodePart("defs.top", "defs.py", "body-top-2"),)
    )
    code["top"] = new
    assert reasons_of(make_plan(code=code)) == {
        "top": [(CODE_CHANGED, "defs.top changed (defs.py)")]
    }


def test_a_version_fingerprinted_another_way_says_so_instead_of_naming_every_part() -> None:
    assets = up_to_date()
    old = CodeVersion("code-top-old", CODE["top"].parts, "python/5")
    assets["top"] = published("top", {"mid": "data-mid"}, code=old)
    assets["top"] = assets["top"]._replace(code_parts_json=old.parts_json())
    now = CodeVersion("code-top-new", (CodePart("defs.top", "defs.py", "body-top-2"),), "python/6")
    ((kind, detail),) = reasons_of(make_plan(assets, code={**CODE, "top": now}))["top"]
    assert kind == CODE_CHANGED
    assert "fingerprinted another way since it was built (python/5 -> python/6" in detail
    # recorded the same way (or before formats were recorded): the parts that changed
    for was in ("python/6", ""):
        before = CodeVersion("code-top-old", CODE["top"].parts, was)
        assets["top"] = assets["top"]._replace(code_parts_json=before.parts_json())
        got = reasons_of(make_plan(assets, code={**CODE, "top": now}))["top"]
        assert got == [(CODE_CHANGED, "defs.top changed (defs.py)")]


def test_a_changed_helper_names_the_helper_and_its_file_and_stales_downstream() -> None:
    code = dict(CODE)
    code["mid"] = code_version("mid", helper_digest="h2")
    got = reasons_of(make_plan(code=code))
    assert got == {
        "mid": [(CODE_CHANGED, "lib.helpers.scale changed (lib/helpers.py)")],
        "top": [(UPSTREAM_WILL_CHANGE, "mid is in this plan")],
    }


def test_upstream_published_a_new_version_reports_old_and_new_data_versions() -> None:
    assets = up_to_date()
    assets["base"] = published("base", {}, data="data-base-new-0123456789")
    p = make_plan(assets)
    assert reasons_of(p) == {
        "mid": [(UPSTREAM_CHANGED, "base: data-base -> data-base-ne")],
        "top": [(UPSTREAM_WILL_CHANGE, "mid is in this plan")],
    }
    (reason,) = p.steps[0].reasons
    assert reason.upstream == "base"
    assert reason.as_dict() == {
        "kind": UPSTREAM_CHANGED,
        "detail": "base: data-base -> data-base-ne",
        "upstream": "base",
    }


def test_every_downstream_of_a_stale_asset_waits_on_it() -> None:
    assets = up_to_date()
    del assets["base"]
    got = reasons_of(make_plan(assets))
    assert got == {
        "base": [(NEVER_MATERIALIZED, "no published version yet")],
        "mid": [(UPSTREAM_WILL_CHANGE, "base is in this plan")],
        "top": [(UPSTREAM_WILL_CHANGE, "mid is in this plan")],
    }


def test_a_changed_source_stales_exactly_its_readers() -> None:
    p = make_plan(sources={"raw/orders": "src-v2"})
    assert reasons_of(p) == {
        "clean": [(SOURCE_CHANGED, "raw/orders: src-v1 -> src-v2")],
        "report": [(UPSTREAM_WILL_CHANGE, "clean is in this plan")],
    }
    assert p.steps[0].reasons[0].upstream == "raw/orders"
    assert dict(p.source_versions) == {"raw/orders": "src-v2"}


def test_a_source_that_cannot_be_observed_blocks_its_readers_and_nothing_else() -> None:
    assets = up_to_date()
    del assets["base"]  # stale for its own reason: still planned
    down = {"raw/orders": "observing source raw/orders failed: ConnectionError: down"}
    p = make_plan(assets, sources={}, unobservable=down)
    assert dict(p.blocked) == {"clean": "raw/orders"}  # neither a step nor fresh
    assert p.keys == ["base", "mid", "top"]
    assert set(p.fresh) == {"report", "alone"}  # report reads clean as published now
    assert p.blocked_reason("clean") == f"{SOURCE_UNOBSERVABLE}: {down['raw/orders']}"
    assert p.as_dict()["blocked"] == [
        {"key": "clean", "kind": SOURCE_UNOBSERVABLE, "source": "raw/orders",
         "detail": down["raw/orders"]}
    ]  # fmt: skip
    # an asset outside the selection is not blocked; one that never ran stays blocked
    assert not make_plan(sources={}, unobservable=down, selection=frozenset({"top"})).blocked
    del assets["clean"]
    assert dict(make_plan(assets, sources={}, unobservable=down).blocked) == {"clean": "raw/orders"}
    assert "blocked" not in make_plan().as_dict()


def test_a_failed_latest_attempt_plans_the_asset_again() -> None:
    assets = up_to_date()
    assets["alone"] = published("alone", {}, last_status="failed")
    assert reasons_of(make_plan(assets)) == {
        "alone": [(LAST_ATTEMPT_FAILED, "the latest attempt failed")]
    }


def test_a_never_published_asset_whose_attempt_failed_carries_both_reasons() -> None:
    assets = up_to_date()
    assets["alone"] = AssetState(
        key="alone",
        data_version=None,
        code_version=None,
        code_parts_json=None,
        input_versions_json=None,
        value_ref=None,
        published_at=None,
        last_status="failed",
        last_attempt_at=5.0,
        materialization_id=3,
    )
    assert reasons_of(make_plan(assets)) == {
        "alone": [
            (NEVER_MATERIALIZED, "no published version yet"),
            (LAST_ATTEMPT_FAILED, "the latest attempt failed"),
        ]
    }


def test_force_plans_every_selected_asset_with_forced_first() -> None:
    assets = up_to_date()
    del assets["alone"]
    p = make_plan(assets, force=True)
    assert set(p.keys) == set(ASSETS)
    for step in p.steps:
        assert step.reasons[0] == Reason(FORCED, "--force")
    assert [r.kind for r in p.steps[p.keys.index("alone")].reasons] == [
        FORCED,
        NEVER_MATERIALIZED,
    ]


def test_force_applies_only_to_the_selection() -> None:
    p = make_plan(force=True, selection=frozenset({"mid"}))
    assert reasons_of(p) == {"mid": [(FORCED, "--force")]}


def test_selection_limits_steps_but_staleness_is_known_for_the_whole_graph() -> None:
    assets = up_to_date()
    del assets["base"]
    del assets["alone"]
    p = make_plan(assets, selection=frozenset({"alone", "top"}))
    assert p.keys == ["alone"]
    assert p.selected == {"alone", "top"}
    # base is not selected, so it does not run and nothing below it waits on it
    assert set(p.stale) == {"alone", "base"}
    assert p.fresh == ("top",)


def test_an_upstream_outside_the_selection_is_read_as_published_now() -> None:
    assets = up_to_date()
    assets["base"] = published("base", {}, data="data-base-2")
    p = make_plan(assets, selection=frozenset({"mid"}))
    assert reasons_of(p) == {
        "mid": [(UPSTREAM_CHANGED, "base: data-base -> data-base-2")],
    }
    assert "base" not in p.keys


def test_a_selected_upstream_that_will_run_stales_its_selected_downstream() -> None:
    code = dict(CODE)
    code["base"] = code_version("base", helper_digest="h9")
    p = make_plan(code=code, selection=frozenset({"base", "mid"}))
    assert p.keys == ["base", "mid"]
    assert p.stale["top"] == (Reason(UPSTREAM_WILL_CHANGE, "mid is in this plan", "mid"),)


def test_the_planner_reads_nothing_and_is_repeatable() -> None:
    state = CatalogState(assets=up_to_date(), sources={})
    kwargs = {"code_versions": CODE, "source_versions": {"raw/orders": "src-v2"}, "now": 5.0}
    assert plan(G, state, **kwargs) == plan(G, state, **kwargs)
    assert plan(G, state, **kwargs).now == 5.0


def test_plan_as_dict_has_the_documented_json_shape() -> None:
    assets = up_to_date()
    del assets["base"]
    data = json.loads(json.dumps(make_plan(assets).as_dict()))
    assert [s["key"] for s in data["steps"]] == ["base", "mid", "top"]
    for s in data["steps"]:
        assert set(s) == {"key", "reasons"}
        for r in s["reasons"]:
            assert {"kind", "detail"} <= set(r)
            assert r["kind"] in REASON_KINDS
    assert data["steps"][1]["reasons"] == [
        {"kind": UPSTREAM_WILL_CHANGE, "detail": "base is in this plan", "upstream": "base"}
    ]
    assert set(data["fresh"]) == {"clean", "report", "alone"}


def test_reason_kinds_include_the_documented_stable_strings() -> None:
    assert set(REASON_KINDS) >= {
        "never_materialized",
        "code_changed",
        "upstream_changed",
        "upstream_will_change",
        "source_changed",
        "last_attempt_failed",
        "forced",
    }


@pytest.mark.parametrize(
    ("current", "needed"),
    [
        ({"base": "v1"}, False),  # the upstream re-published the same version: early cutoff
        ({"base": "v2"}, True),
        ({}, True),
    ],
)
def test_a_step_waiting_only_on_upstreams_is_not_needed_when_they_did_not_change(
    current: dict[str, str], needed: bool
) -> None:
    step = Step("mid", (Reason(UPSTREAM_WILL_CHANGE, "base is in this plan", "base"),))
    assert step.only_waits_on_upstreams()
    assert still_needed(step, {"base": "v1"}, current) is needed


def test_a_step_with_its_own_reason_is_always_needed() -> None:
    step = Step(
        "mid",
        (
            Reason(UPSTREAM_WILL_CHANGE, "base is in this plan", "base"),
            Reason(CODE_CHANGED, "defs.mid changed (defs.py)"),
        ),
    )
    assert not step.only_waits_on_upstreams()
    assert still_needed(step, {"base": "v1"}, {"base": "v1"})


def _recorded_compactly(assets: dict[str, AssetState]) -> dict[str, AssetState]:
    """The same states with their input versions written in another JSON layout."""
    out = {}
    for k, st in assets.items():
        inputs = json.loads(st.input_versions_json) if st.input_versions_json else None
        text = None if inputs is None else json.dumps(inputs, separators=(",", ":"))
        out[k] = st._replace(input_versions_json=text)
    return out


def test_plans_decide_by_the_recorded_values_whatever_their_json_layout() -> None:
    # the planner compares recorded input versions as text when they are in the form
    # the executor writes; any other layout is decoded: both must decide the same
    rng = random.Random(7)
    for _ in range(300):
        assets = up_to_date()
        sources = {"raw/orders": rng.choice(["src-v1", "src-v2", 'src "quoted" é'])}
        for key in ASSETS:
            roll = rng.random()
            if roll < 0.1:
                del assets[key]
            elif roll < 0.2:
                assets[key] = assets[key]._replace(last_status=rng.choice(["failed", "skipped"]))
            elif roll < 0.3:
                assets[key] = assets[key]._replace(data_version=f"data-{key}-{rng.random()}")
            elif roll < 0.4:
                inputs = dict.fromkeys(G.upstream[key], "recorded-elsewhere")
                assets[key] = assets[key]._replace(input_versions_json=json.dumps(inputs))
            elif roll < 0.45:
                assets[key] = assets[key]._replace(input_versions_json=None)
        code = dict(CODE)
        if rng.random() < 0.3:
            code["mid"] = code_version("mid", helper_digest="h2")
        fast = make_plan(assets, code=code, sources=sources)
        decoded = make_plan(_recorded_compactly(assets), code=code, sources=sources)
        assert reasons_of(fast) == reasons_of(decoded)
        assert fast.fresh == decoded.fresh
        assert dict(fast.stale) == dict(decoded.stale)


def test_recorded_inputs_with_characters_json_escapes_are_up_to_date() -> None:
    version = 'src "quoted" \\ é'
    assets = up_to_date()
    assets["clean"] = published("clean", {"raw/orders": version})
    assert make_plan(assets, sources={"raw/orders": version}).steps == ()
    assert reasons_of(make_plan(assets)) == {
        "clean": [(SOURCE_CHANGED, 'raw/orders: src "quoted" -> src-v1')],
        "report": [(UPSTREAM_WILL_CHANGE, "clean is in this plan")],
    }


@pytest.mark.parametrize(
    "reasons",
    [
        (),
        (Reason(FORCED, "--force"),),
        (
            Reason(UPSTREAM_CHANGED, 'a/b: 1 -> 2 "quoted" é\n\t', upstream="a/b"),
            Reason(CODE_CHANGED, "helper ü changed; ☃"),
        ),
    ],
)
def test_reasons_json_is_what_json_dumps_writes(reasons: tuple[Reason, ...]) -> None:
    assert reasons_json(reasons) == json.dumps([r.as_dict() for r in reasons])
    assert [Reason(**d) for d in json.loads(reasons_json(reasons))] == list(reasons)


@pytest.mark.parametrize(
    "versions",
    [{}, {"a": "b"}, {"a/b": 'x"y\\', "é": "ü☃"}, {"a": None}, {"a": 1, "b": "c"}],
)
def test_versions_json_is_what_json_dumps_writes(versions: dict) -> None:
    # the planner compares recorded input versions as text with texts made this way
    assert versions_json(versions) == json.dumps(versions)
