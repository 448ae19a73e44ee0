"""Building and validating the asset graph; each error is one clear paragraph."""

from __future__ import annotations

import pytest

from assets_core import asset, source
from assets_core.errors import (
    AssetsError,
    CycleError,
    DefinitionError,
    DuplicateKeyError,
    UnknownUpstreamError,
)
from assets_core.graph import Graph


def defs(*objs):
    return [o if not callable(o) else o.__asset_def__ for o in objs]


def test_parameters_resolve_to_upstreams_and_order_puts_upstreams_first() -> None:
    orders = source("raw/orders", path="data/*.csv")

    @asset(key_prefix="stg")
    def clean_orders(orders):
        return orders

    @asset(key_prefix="bi")
    def revenue(clean_orders):
        return clean_orders

    @asset(key_prefix="bi", deps=["stg/clean_orders"])
    def report(revenue):
        return revenue

    g = Graph.build(defs(report, revenue, clean_orders, orders))
    assert set(g.order) == {"raw/orders", "stg/clean_orders", "bi/revenue", "bi/report"}
    pos = {k: i for i, k in enumerate(g.order)}
    assert pos["raw/orders"] < pos["stg/clean_orders"] < pos["bi/revenue"] < pos["bi/report"]
    assert g.inputs["stg/clean_orders"] == (("orders", "raw/orders"),)
    assert g.upstream["bi/report"] == ("bi/revenue",)
    assert g.order_deps["bi/report"] == ("stg/clean_orders",)
    assert g.all_upstream("bi/report") == ("bi/revenue", "stg/clean_orders")
    assert set(g.downstream["stg/clean_orders"]) == {"bi/revenue", "bi/report"}
    assert g.sources == ("raw/orders",)
    assert g.is_source("raw/orders") and not g.is_source("bi/report")
    assert len(g) == 4 and "bi/report" in g and "nope" not in g
    assert set(g.assets) == {"stg/clean_orders", "bi/revenue", "bi/report"}


def test_sources_are_listed_in_order_and_direct_parameters_are_the_upstreams() -> None:
    first = source("first", path="a/*.csv")

    @asset
    def middle(first):
        return first

    second = source("raw/second", path="b/*.csv")

    @asset
    def last(middle, first, second):
        return middle

    g = Graph.build(defs(last, middle, second, first))
    assert g.sources == tuple(k for k in g.order if g.is_source(k)) == ("raw/second", "first")
    assert g.upstream["middle"] == ("first",) and g.inputs["middle"] == (("first", "first"),)
    # "second" is resolved by the last part of its key; the others name keys directly
    assert g.upstream["last"] == ("middle", "first", "raw/second")
    assert g.inputs["last"] == (("middle", "middle"), ("first", "first"), ("second", "raw/second"))
    # readers in the order the definitions were given
    assert g.downstream["first"] == ("last", "middle") and g.downstream["last"] == ()


def test_ins_maps_a_parameter_to_any_key() -> None:
    @asset(key="marketing/ad_spend")
    def spend_table():
        return 1

    @asset(ins={"spend": "marketing/ad_spend"})
    def roas(spend):
        return spend

    g = Graph.build(defs(spend_table, roas))
    assert g.inputs["roas"] == (("spend", "marketing/ad_spend"),)


def test_same_prefix_decides_between_keys_with_the_same_name() -> None:
    @asset(key="bi/orders")
    def bi_orders():
        return 1

    @asset(key="ml/orders")
    def ml_orders():
        return 1

    @asset(key_prefix="bi")
    def revenue(orders):
        return orders

    g = Graph.build(defs(bi_orders, ml_orders, revenue))
    assert g.upstream["bi/revenue"] == ("bi/orders",)


def test_the_same_definition_listed_twice_is_not_a_duplicate() -> None:
    @asset
    def a():
        return 1

    g = Graph.build(defs(a, a))
    assert g.order == ("a",)


def test_two_step_cycle_is_reported_with_its_path_and_locations() -> None:
    @asset
    def a(b):
        return b

    @asset
    def b(a):
        return a

    with pytest.raises(CycleError) as ei:
        Graph.build(defs(a, b))
    text = str(ei.value)
    assert "the assets form a cycle: a -> b -> a" in text
    assert str(a.__asset_def__.location) in text
    assert str(b.__asset_def__.location) in text
    assert ei.value.path == ("a", "b", "a")
    assert ei.value.exit_code == 2


def test_longer_cycle_is_reported_in_the_direction_data_flows() -> None:
    @asset
    def a(c):
        return c

    @asset
    def b(a):
        return a

    @asset
    def c(b):
        return b

    @asset
    def outside(a):
        return a

    with pytest.raises(CycleError, match=r"a -> b -> c -> a"):
        Graph.build(defs(outside, a, b, c))


def test_an_asset_depending_on_itself_through_deps_is_a_cycle() -> None:
    @asset(deps=["a"])
    def a():
        return 1

    with pytest.raises(CycleError, match=r"cycle: a -> a"):
        Graph.build(defs(a))


def test_unknown_upstream_names_asset_parameter_location_and_closest_keys() -> None:
    @asset(key_prefix="bi")
    def revenue():
        return 1

    @asset
    def report(revenu):
        return revenu

    with pytest.raises(UnknownUpstreamError) as ei:
        Graph.build(defs(revenue, report))
    err = ei.value
    text = str(err)
    assert text.startswith(f"{report.__asset_def__.location}: asset report: parameter 'revenu'")
    assert "names no known asset or source" in text
    assert "did you mean bi/revenue?" in text
    assert err.key == "report"
    assert isinstance(err, DefinitionError)


def test_unknown_upstream_without_close_names_says_how_to_declare_it() -> None:
    @asset
    def report(zzzzqqq):
        return zzzzqqq

    with pytest.raises(UnknownUpstreamError) as ei:
        Graph.build(defs(report))
    assert "declare it with @asset or source()" in str(ei.value)


def test_unknown_deps_key_is_reported_with_closest_keys() -> None:
    @asset(key_prefix="raw")
    def orders():
        return 1

    @asset(deps=["raw/order"])
    def report():
        return 1

    with pytest.raises(UnknownUpstreamError) as ei:
        Graph.build(defs(orders, report))
    text = str(ei.value)
    assert "asset report: deps= names 'raw/order'" in text
    assert "did you mean raw/orders?" in text
    assert str(report.__asset_def__.location) in text


def test_unknown_ins_key_is_reported_with_closest_keys() -> None:
    @asset(key_prefix="marketing")
    def ad_spend():
        return 1

    @asset(ins={"spend": "marketing/ad_spnd"})
    def roas(spend):
        return spend

    with pytest.raises(UnknownUpstreamError) as ei:
        Graph.build(defs(ad_spend, roas))
    text = str(ei.value)
    assert "parameter 'spend' reads 'marketing/ad_spnd' (ins=)" in text
    assert "did you mean marketing/ad_spend?" in text


def test_duplicate_key_names_both_locations() -> None:
    @asset(key="bi/roas")
    def first():
        return 1

    @asset(key="bi/roas")
    def second():
        return 2

    with pytest.raises(DuplicateKeyError) as ei:
        Graph.build(defs(first, second))
    text = str(ei.value)
    assert "key bi/roas is defined twice" in text
    assert str(first.__asset_def__.location) in text
    assert str(second.__asset_def__.location) in text
    assert first.__asset_def__.location != second.__asset_def__.location


def test_a_key_declared_as_source_and_asset_is_refused_with_both_locations() -> None:
    orders = source("raw/orders", path="data/*.csv")

    @asset(key="raw/orders")
    def make_orders():
        return 1

    for order in ([orders, make_orders], [make_orders, orders]):
        with pytest.raises(DuplicateKeyError) as ei:
            Graph.build(defs(*order))
        text = str(ei.value)
        assert f"raw/orders is declared as a source at {orders.location}" in text
        assert f"produced as an asset at {make_orders.__asset_def__.location}" in text


def test_ambiguous_parameter_lists_candidates_and_suggests_ins() -> None:
    @asset(key="x/orders")
    def x_orders():
        return 1

    @asset(key="y/orders")
    def y_orders():
        return 1

    @asset
    def report(orders):
        return orders

    with pytest.raises(DefinitionError) as ei:
        Graph.build(defs(x_orders, y_orders, report))
    err = ei.value
    assert "asset report: parameter 'orders' could name any of x/orders, y/orders" in str(err)
    assert err.hint == 'say which with ins={"orders": "x/orders"}'
    assert str(report.__asset_def__.location) in str(err)


def test_every_graph_error_is_an_assets_error_with_exit_code_2() -> None:
    for cls in (CycleError, UnknownUpstreamError, DuplicateKeyError, DefinitionError):
        assert issubclass(cls, AssetsError)
    assert DefinitionError("x").exit_code == 2


def test_unknown_upstream_never_suggests_the_asset_itself() -> None:
    @asset(key_prefix="raw")
    def customers():
        return 1

    @asset
    def orders(order, customer):
        return order

    with pytest.raises(UnknownUpstreamError) as ei:
        Graph.build(defs(customers, orders))
    assert "parameter 'order'" in str(ei.value)
    assert "did you mean" not in str(ei.value)  # "orders" would read itself

    @asset(deps=["order"])
    def orders_2():
        return 1

    @asset(key="orders_3", ins={"x": "orders_4"})
    def orders_3(x):
        return x

    for fn in (orders_2, orders_3):
        with pytest.raises(UnknownUpstreamError) as ei:
            Graph.build(defs(fn))
        assert fn.__asset_def__.key not in (ei.value.hint or "")
