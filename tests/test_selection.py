"""Selections in dbt's syntax, on a small graph:

    raw/orders (source) -> stg/clean_orders --\
                           stg/customers -----+-> bi/journey -> bi/roas -> bi/dashboard
    unrelated
"""

from __future__ import annotations

import pytest

from assets_core import asset, source
from assets_core.errors import AssetsError, SelectionError
from assets_core.graph import Graph
from assets_core.selection import SYNTAX, select


@pytest.fixture(scope="module")
def g() -> Graph:
    orders = source("raw/orders", path="data/*.csv")

    @asset(key_prefix="stg", tags=["pii"])
    def customers():
        return 1

    @asset(key_prefix="stg")
    def clean_orders(orders):
        return orders

    @asset(key_prefix="bi", group="bi")
    def journey(customers, clean_orders):
        return 1

    @asset(key_prefix="bi", group="bi", tags=["pii", "finance"])
    def roas(journey):
        return 1

    @asset(key_prefix="bi", group="bi")
    def dashboard(roas):
        return 1

    @asset
    def unrelated():
        return 1

    fns = [customers, clean_orders, journey, roas, dashboard, unrelated]
    return Graph.build([orders, *(f.__asset_def__ for f in fns)])


ALL = {
    "raw/orders",
    "stg/customers",
    "stg/clean_orders",
    "bi/journey",
    "bi/roas",
    "bi/dashboard",
    "unrelated",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bi/roas", {"bi/roas"}),
        ("roas", {"bi/roas"}),
        ("raw/orders", {"raw/orders"}),
        ("bi/journey+", {"bi/journey", "bi/roas", "bi/dashboard"}),
        ("journey+1", {"bi/journey", "bi/roas"}),
        ("stg/customers+1", {"stg/customers", "bi/journey"}),
        ("+bi/journey", {"bi/journey", "stg/customers", "stg/clean_orders", "raw/orders"}),
        ("1+bi/roas", {"bi/roas", "bi/journey"}),
        ("2+bi/roas", {"bi/roas", "bi/journey", "stg/customers", "stg/clean_orders"}),
        ("+roas+", ALL - {"unrelated"}),
        ("group:bi", {"bi/journey", "bi/roas", "bi/dashboard"}),
        ("group:raw", {"raw/orders"}),
        ("group:default", {"unrelated"}),
        ("tag:pii", {"stg/customers", "bi/roas"}),
        ("kind:source", {"raw/orders"}),
        ("bi/roas unrelated", {"bi/roas", "unrelated"}),
        ("group:bi,tag:pii", {"bi/roas"}),
        ("+bi/dashboard,tag:pii", {"bi/roas", "stg/customers"}),
        ("group:bi,tag:pii unrelated", {"bi/roas", "unrelated"}),
        ("stg/*", {"stg/customers", "stg/clean_orders"}),
        ("*/c*", {"stg/customers", "stg/clean_orders"}),
        ("bi/[jr]*", {"bi/journey", "bi/roas"}),
    ],
)
def test_selection_selects_exactly(g: Graph, text: str, expected: set[str]) -> None:
    assert select(g, text) == expected


@pytest.mark.parametrize("empty", [None, "", "   ", []])
def test_empty_selection_selects_everything(g: Graph, empty: object) -> None:
    assert select(g, empty) == ALL  # type: ignore[arg-type]


def test_a_list_of_terms_is_a_union(g: Graph) -> None:
    assert select(g, ["bi/roas", "unrelated stg/customers"]) == {
        "bi/roas",
        "unrelated",
        "stg/customers",
    }


@pytest.mark.parametrize("bad", ["++roas", "roas++", "a+b+c", "bi/roas,", ",roas", "a,,b", "+"])
def test_invalid_selection_raises_with_the_syntax(g: Graph, bad: str) -> None:
    with pytest.raises(SelectionError) as ei:
        select(g, bad)
    err = ei.value
    assert isinstance(err, AssetsError) and err.exit_code == 2
    assert err.hint == SYNTAX
    assert "selection syntax: KEY | NAME | GLOB | KEY+ | +KEY" in str(err)


def test_unknown_selection_method_shows_the_syntax(g: Graph) -> None:
    with pytest.raises(SelectionError) as ei:
        select(g, "owner:ana")
    assert "unknown selection method 'owner'" in str(ei.value)
    assert ei.value.hint == SYNTAX


def test_unknown_key_suggests_the_closest(g: Graph) -> None:
    with pytest.raises(SelectionError) as ei:
        select(g, "bi/roaz")
    assert "no asset or source named 'bi/roaz'" in str(ei.value)
    assert ei.value.hint is not None
    assert ei.value.hint.startswith("did you mean bi/roas")


def test_unknown_name_suggests_keys_with_a_similar_name(g: Graph) -> None:
    with pytest.raises(SelectionError) as ei:
        select(g, "dashbord")
    assert ei.value.hint is not None and "bi/dashboard" in ei.value.hint


def test_unknown_group_and_tag_suggest_the_closest(g: Graph) -> None:
    with pytest.raises(SelectionError) as ei:
        select(g, "group:bii")
    assert "no group named 'bii'" in str(ei.value)
    assert ei.value.hint == "did you mean group:bi?"
    with pytest.raises(SelectionError) as ei:
        select(g, "tag:pi")
    assert ei.value.hint == "did you mean tag:pii?"


def test_glob_matching_nothing_is_an_error(g: Graph) -> None:
    with pytest.raises(SelectionError, match="'ml/\\*' matches no key"):
        select(g, "ml/*")


def test_a_name_shared_by_two_keys_asks_for_the_full_key() -> None:
    @asset(key="x/orders")
    def a():
        return 1

    @asset(key="y/orders")
    def b():
        return 1

    graph = Graph.build([a.__asset_def__, b.__asset_def__])
    with pytest.raises(SelectionError) as ei:
        select(graph, "orders")
    assert "could be any of x/orders, y/orders" in str(ei.value)
    assert select(graph, "x/orders") == {"x/orders"}
