"""Marketing attribution rules (a helper module, not an asset)."""

from __future__ import annotations

import pandas as pd


def last_touch(orders: pd.DataFrame, leads: pd.DataFrame, window_days: int = 30) -> pd.DataFrame:
    """Attribute each order to the customer's latest lead from the order day or before.

    A lead counts when it was created at most ``window_days`` days before the
    order's day. Returns ``orders`` with ``lead_id``, ``lead_created_at``,
    ``campaign_id`` and ``days_to_convert`` added (missing when no lead counts).
    """
    touches = leads[["customer_id", "lead_id", "campaign_id", "created_at"]].rename(
        columns={"created_at": "lead_created_at"}
    )
    touches = touches.assign(lead_day=touches["lead_created_at"].dt.normalize())
    matched = pd.merge_asof(
        orders.sort_values("order_date"),
        touches.sort_values("lead_created_at"),
        left_on="order_date",
        right_on="lead_day",
        by="customer_id",
        direction="backward",
        tolerance=pd.Timedelta(days=window_days),
    )
    days = (matched["order_date"] - matched["lead_day"]).dt.days
    matched["days_to_convert"] = days.astype("Int64")
    return matched.drop(columns="lead_day").sort_values("order_id").reset_index(drop=True)
