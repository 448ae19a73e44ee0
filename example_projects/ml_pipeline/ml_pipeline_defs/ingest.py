"""Ingest: the raw export typed and deduplicated, one row per subscriber."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assets_core import asset
from assets_core import checks as c

PLANS = ("basic", "standard", "premium")


@asset(
    key_prefix="ml",
    checks=[
        c.not_null("subscriber_id", "plan", "contract", "tenure_months", "churned"),
        c.unique("subscriber_id"),
        c.accepted_values("plan", PLANS),
        c.accepted_values("contract", ["monthly", "annual"]),
        c.accepted_values("churned", [0, 1]),
    ],
)
def subscribers(subscribers_export: list[Path]) -> pd.DataFrame:
    """Subscribers with typed columns; a missing login count stays missing (features decide)."""
    df = pd.concat([pd.read_csv(p) for p in subscribers_export]).drop_duplicates()
    df["plan"] = df["plan"].str.strip().str.lower()
    df["logins_30d"] = df["logins_30d"].astype("Float64")
    return df.sort_values("subscriber_id").reset_index(drop=True)
