"""Bad check definitions are reported when the project loads, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assets_core.errors import DefinitionError, DuplicateKeyError, UnknownUpstreamError

CUSTOMERS = """
import polars as pl
from assets_core import asset


@asset(key="crm/customers")
def customers():
    return pl.DataFrame({"id": [1, 2]})
"""


def orders_module(checks: str, extra: str = "") -> str:
    return f"""
import polars as pl
from assets_core import asset, check, checks as c


@asset(checks={checks})
def orders():
    return pl.DataFrame({{"id": [1, 2], "customer_id": [1, 2]}})
{extra}"""


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_relationships_to_an_unknown_asset_fails_at_load_with_the_closest_keys(
    make_project: Any, run_cli: Any
) -> None:
    rule = '[c.relationships("customer_id", to="crm/customer", field="id")]'
    root = make_project({"crm.py": CUSTOMERS, "defs.py": orders_module(rule)})
    proc = run_cli(root, "plan")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    where = f"{root / 'defs.py'}:{line_of(root / 'defs.py', '@asset(checks=')}"
    assert (
        f"{where}: asset orders: check relationships(customer_id -> crm/customer.id) refers to "
        "'crm/customer', which is not a known asset or source" in proc.stderr
    )
    assert "did you mean crm/customers?" in proc.stderr
    assert not (root / ".assets" / "store").exists()


def test_relationships_to_a_known_asset_loads_and_reads_it(
    load_project: Any, make_project: Any
) -> None:
    rule = '[c.relationships("customer_id", to="crm/customers", field="id")]'
    root = make_project({"crm.py": CUSTOMERS, "defs.py": orders_module(rule)})
    (bound,) = load_project(root).graph.checks_of("orders")
    assert bound.reads == ("crm/customers",)
    assert bound.blocking


def test_two_checks_with_the_same_name_on_one_asset_are_rejected(
    load_project: Any, make_project: Any
) -> None:
    root = make_project({"defs.py": orders_module('[c.not_null("id"), c.not_null("id")]')})
    with pytest.raises(DuplicateKeyError) as e:
        load_project(root)
    text = str(e.value)
    assert "asset orders has two checks named 'not_null(id)'" in text
    assert f"{root / 'defs.py'}:" in text
    assert "fix: give one of them name=..." in text


def test_a_custom_check_named_like_a_builtin_is_a_duplicate(
    load_project: Any, make_project: Any
) -> None:
    extra = """

@check(orders, name="unique(id)")
def my_unique(orders):
    return orders["id"].is_unique().all()
"""
    root = make_project({"defs.py": orders_module('[c.unique("id")]', extra)})
    with pytest.raises(DuplicateKeyError, match=r"two checks named 'unique\(id\)'"):
        load_project(root)


def test_check_on_an_unknown_key_names_the_closest_asset(
    load_project: Any, make_project: Any, run_cli: Any
) -> None:
    extra = """

@check("order")
def has_rows(order):
    return len(order) > 0
"""
    root = make_project({"defs.py": orders_module("[]", extra)})
    with pytest.raises(UnknownUpstreamError) as e:
        load_project(root)
    text = str(e.value)
    line = line_of(root / "defs.py", '@check("order")')
    assert text.startswith(
        f"{root / 'defs.py'}:{line}: check has_rows is declared on 'order', "
        "which is not a known asset"
    )
    assert "did you mean orders?" in text
    proc = run_cli(root, "status")
    assert proc.returncode == 2
    assert "check has_rows is declared on 'order'" in proc.stderr


def test_a_check_parameter_that_names_no_asset_is_rejected(
    load_project: Any, make_project: Any
) -> None:
    extra = """

@check(orders)
def matches(orders, ledgr):
    return True
"""
    root = make_project({"defs.py": orders_module("[]", extra)})
    with pytest.raises(UnknownUpstreamError, match="parameter 'ledgr' names no known asset"):
        load_project(root)


def test_a_custom_check_without_parameters_is_rejected_where_it_is_declared() -> None:
    from assets_core import check

    with pytest.raises(DefinitionError) as e:

        @check("orders")
        def nothing() -> bool:
            return True

    assert "check nothing on orders takes no parameter" in str(e.value)
    assert f"{__file__}:" in str(e.value)


def test_checks_entry_that_is_not_a_check_is_rejected(load_project: Any, make_project: Any) -> None:
    root = make_project({"defs.py": orders_module('["not_null(id)"]')})
    with pytest.raises(DefinitionError) as e:
        load_project(root)
    assert "checks= entry 'not_null(id)' is not a check" in str(e.value)


def test_custom_checks_bind_the_asset_and_the_assets_they_read(
    load_project: Any, make_project: Any
) -> None:
    extra = """

@check(orders, blocking=False)
def matches_customers(orders, customers):
    return True
"""
    root = make_project({"crm.py": CUSTOMERS, "defs.py": orders_module("[]", extra)})
    project = load_project(root)
    (bound,) = project.graph.checks_of("orders")
    assert bound.inputs == (("orders", "orders"), ("customers", "crm/customers"))
    assert bound.reads == ("crm/customers",)
    assert bound.severity == "warn"
    # reading another asset in a check does not make it an upstream of the asset
    assert project.graph.upstream["orders"] == ()
