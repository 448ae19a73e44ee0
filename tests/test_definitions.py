"""``@asset`` and ``source()``: the immutable definitions they record."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import pytest

from assets_core import AssetDef, SourceDef, asset, source
from assets_core.definitions import definition_of, validate_key
from assets_core.errors import AssetsError, DefinitionError

HERE = __file__


def _this_line() -> int:
    """The line number of the caller's line."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def test_key_is_the_function_name_by_default() -> None:
    @asset
    def daily_revenue():
        return 1

    d = daily_revenue.__asset_def__
    assert isinstance(d, AssetDef)
    assert d.key == "daily_revenue"
    assert d.name == "daily_revenue"
    assert d.params == ()
    assert d.kind == "python"


def test_explicit_key_replaces_the_function_name() -> None:
    @asset(key="bi/roas_daily")
    def compute():
        return 1

    assert compute.__asset_def__.key == "bi/roas_daily"
    assert compute.__asset_def__.name == "roas_daily"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("bi", "bi/roas"), (["finance", "bi"], "finance/bi/roas"), (("a",), "a/roas")],
)
def test_key_prefix_is_joined_with_the_function_name(prefix: object, expected: str) -> None:
    @asset(key_prefix=prefix)  # type: ignore[arg-type]
    def roas():
        return 1

    assert roas.__asset_def__.key == expected


def test_key_and_key_prefix_together_are_refused() -> None:
    with pytest.raises(DefinitionError, match="either key= or key_prefix="):

        @asset(key="bi/roas", key_prefix="bi")
        def roas():
            return 1


def test_group_defaults_to_the_first_key_segment_or_default() -> None:
    @asset
    def plain():
        return 1

    @asset(key_prefix=["bi", "marts"])
    def nested():
        return 1

    assert plain.__asset_def__.group == "default"
    assert nested.__asset_def__.group == "bi"


def test_explicit_group_wins_over_the_key_prefix() -> None:
    @asset(key_prefix="bi", group="finance")
    def roas():
        return 1

    assert roas.__asset_def__.group == "finance"


def test_tags_are_kept_as_a_frozenset() -> None:
    @asset(tags=["pii", "finance", "pii"])
    def customers():
        return 1

    assert customers.__asset_def__.tags == frozenset({"pii", "finance"})


def test_a_single_string_as_tags_is_refused_with_the_fix() -> None:
    with pytest.raises(DefinitionError) as ei:

        @asset(tags="pii")
        def customers():
            return 1

    assert ei.value.hint == "write tags=['pii']"


def test_deps_accept_keys_asset_functions_and_sources() -> None:
    raw = source("raw/orders", path="data/*.csv")

    @asset(key_prefix="stg")
    def upstream_fn():
        return 1

    @asset(deps=["bi/other", upstream_fn, raw])
    def report():
        return 1

    assert report.__asset_def__.deps == ("bi/other", "stg/upstream_fn", "raw/orders")
    assert report.__asset_def__.params == ()


def test_a_deps_entry_that_is_not_a_key_asset_or_source_is_refused() -> None:
    def not_an_asset():
        return 1

    with pytest.raises(DefinitionError, match="neither a key, an asset nor a source"):

        @asset(deps=[not_an_asset])
        def report():
            return 1


def test_parameters_name_upstreams_and_ins_maps_them_to_keys() -> None:
    @asset(ins={"spend": "marketing/ad_spend"})
    def roas(spend, revenue):
        return revenue / spend

    d = roas.__asset_def__
    assert d.params == ("spend", "revenue")
    assert dict(d.ins) == {"spend": "marketing/ad_spend"}


def test_ins_naming_a_parameter_the_function_lacks_is_refused() -> None:
    with pytest.raises(DefinitionError) as ei:

        @asset(ins={"spnd": "marketing/ad_spend"})
        def roas(spend, revenue):
            return revenue / spend

    assert "'spnd'" in ei.value.message
    assert ei.value.hint == "parameters are: spend, revenue"


def test_ins_with_a_bad_key_is_refused() -> None:
    with pytest.raises(DefinitionError, match="invalid asset key 'ad spend'"):

        @asset(ins={"spend": "ad spend"})
        def roas(spend):
            return spend


def test_star_args_cannot_name_upstreams() -> None:
    with pytest.raises(DefinitionError, match=r"\*args/\*\*kwargs"):

        @asset
        def combined(*frames):
            return frames


def test_code_version_pin_and_metadata_are_recorded() -> None:
    @asset(code_version="v3", metadata={"owner": "ana", "sla": 2})
    def model():
        return 1

    d = model.__asset_def__
    assert d.code_version == "v3"
    assert dict(d.metadata) == {"owner": "ana", "sla": 2}


def test_code_version_is_none_unless_pinned() -> None:
    @asset
    def model():
        return 1

    assert model.__asset_def__.code_version is None


def test_decorated_function_stays_the_same_callable_function() -> None:
    def roas(spend, revenue):
        return revenue / spend

    decorated = asset(roas)
    assert decorated is roas
    assert roas(2, 10) == 5.0

    def double(x):
        return x * 2

    assert asset(key_prefix="bi")(double) is double
    assert double(3) == 6
    assert double.__asset_def__.key == "bi/double"


def test_definitions_are_immutable() -> None:
    @asset
    def model():
        return 1

    with pytest.raises(dataclasses.FrozenInstanceError):
        model.__asset_def__.key = "other"  # type: ignore[misc]


def test_asset_builds_the_same_value_as_the_dataclass_constructor() -> None:
    """@asset fills the AssetDef's fields without its __init__: every field, each
    default as the dataclass declares it, and a value that copies and compares."""

    @asset
    def plain(orders):
        return orders

    @asset(key="bi/full", tags=["pii"], deps=["raw/x"], metadata={"owner": "bi"}, pool="w")
    def full(orders):
        return orders

    names = {f.name for f in dataclasses.fields(AssetDef)}
    for fn in (plain, full):
        d = fn.__asset_def__
        assert set(vars(d)) == names
        assert d == AssetDef(**{n: getattr(d, n) for n in names})
        assert copy.copy(d) == d
        with pytest.raises(dataclasses.FrozenInstanceError):
            d.group = "other"  # type: ignore[misc]
    d = plain.__asset_def__
    for f in dataclasses.fields(AssetDef):
        if f.default is not dataclasses.MISSING:
            assert getattr(d, f.name) == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert getattr(d, f.name) == f.default_factory(), f.name
    assert full.__asset_def__.pool == "w" and full.__asset_def__.deps == ("raw/x",)


def test_location_points_at_the_decorated_function() -> None:
    line = _this_line() + 2

    @asset
    def located():
        return 1

    loc = located.__asset_def__.location
    assert loc.file == HERE
    assert loc.line == line
    assert str(loc) == f"{HERE}:{line}"


@pytest.mark.parametrize(
    "bad",
    ["bad key", "bi//roas", "/roas", "roas/", "1st", "bi/roas-daily", "", "bi.roas", "bi/x\n"],
)
def test_bad_key_syntax_raises_definition_error_naming_file_and_line(bad: str) -> None:
    line = _this_line() + 3
    with pytest.raises(DefinitionError) as ei:

        @asset(key=bad)
        def f():
            return 1

    err = ei.value
    assert isinstance(err, AssetsError)
    assert err.location == f"{HERE}:{line}"
    assert str(err).startswith(f"{HERE}:{line}: invalid asset key {bad!r}")
    assert err.hint is not None and "bi/roas_daily" in err.hint


@pytest.mark.parametrize("good", ["a", "bi/roas_daily", "A/b_2/_c"])
def test_valid_keys_pass_validation(good: str) -> None:
    assert validate_key(good) == good


def test_source_with_a_path_records_key_group_and_tags() -> None:
    orders = source("raw/orders", path="landing/orders/*.csv", tags=["pii"], description="x")
    assert isinstance(orders, SourceDef)
    assert orders.key == "raw/orders"
    assert orders.name == "orders"
    assert orders.path == "landing/orders/*.csv"
    assert orders.observe is None
    assert orders.group == "raw"
    assert orders.tags == frozenset({"pii"})
    assert orders.kind == "source"


def test_source_location_is_the_calling_line() -> None:
    line = _this_line() + 1
    s = source("raw/orders", path="x.csv")
    assert str(s.location) == f"{HERE}:{line}"


def test_source_with_observe_keeps_the_function() -> None:
    def etag():
        return "abc"

    s = source("api/rates", observe=etag, group="external")
    assert s.observe is etag
    assert s.path is None
    assert s.group == "external"


@pytest.mark.parametrize("kwargs", [{}, {"path": "a.csv", "observe": lambda: 1}])
def test_source_needs_exactly_one_of_path_or_observe(kwargs: dict) -> None:
    line = _this_line() + 2
    with pytest.raises(DefinitionError) as ei:
        source("raw/orders", **kwargs)
    assert "give exactly one of path= or observe=" in ei.value.message
    assert ei.value.location == f"{HERE}:{line}"


def test_source_with_a_bad_key_is_refused() -> None:
    with pytest.raises(DefinitionError, match="invalid asset key 'raw orders'"):
        source("raw orders", path="x.csv")


def test_definition_of_finds_assets_and_sources_only() -> None:
    @asset
    def model():
        return 1

    s = source("raw/x", path="x")
    assert definition_of(model) is model.__asset_def__
    assert definition_of(s) is s
    assert definition_of(_this_line) is None
    assert definition_of(42) is None
