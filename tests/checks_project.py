"""A small orders -> report project for the checks tests, and helpers to inspect it.

``orders`` is a polars frame with built-in checks (three blocking, one warning);
``report`` reads it. Every real computation of ``orders`` appends a line to
``calls.txt`` in the project folder, so tests can tell an audit from a recomputation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORDERS_CHECKS = """[
    c.not_null("customer_id"),
    c.unique("order_id"),
    c.accepted_values("currency", ["EUR", "USD"]),
    c.expression("amount >= 0", blocking=False),
]"""

DEFS = """
from pathlib import Path

import polars as pl

from assets_core import asset, check, checks as c

CALLS = Path(__file__).with_name("calls.txt")


@asset(checks=CHECKS)
def orders():
    with CALLS.open("a") as f:  # counts real computations of this asset
        f.write("orders\\n")
    return pl.DataFrame(
        {
            "order_id": ORDER_IDS,
            "customer_id": [1, 2, 3],
            "currency": ["EUR", "USD", "EUR"],
            "amount": AMOUNTS,
        }
    )


@asset
def report(orders):
    return orders.group_by("currency").agg(pl.col("amount").sum()).sort("currency")
"""


def defs(
    *,
    order_ids: list[int] | None = None,
    amounts: list[float] | None = None,
    checks: str = ORDERS_CHECKS,
    extra: str = "",
) -> str:
    return (
        DEFS.replace("CHECKS", checks)
        .replace("ORDER_IDS", repr(order_ids or [1, 2, 3]))
        .replace("AMOUNTS", repr(amounts or [5.0, 1.0, 2.0]))
        + extra
    )


def published(catalog_rows: Any, root: Path) -> dict[str, tuple[str, str, str | None]]:
    """key -> (data version, value ref, checks status) of what is published now."""
    rows = catalog_rows(root, "select key, data_version, value_ref, checks_status from asset_state")
    return {k: (dv, ref, cs) for k, dv, ref, cs in rows if dv}


def store_file(root: Path, ref: str) -> Path:
    return root / ".assets" / "store" / ref.partition(":")[2]


def calls(root: Path) -> int:
    f = root / "calls.txt"
    return len(f.read_text().splitlines()) if f.exists() else 0


def by_key(payload: dict[str, Any], field: str = "steps") -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in payload[field]}
