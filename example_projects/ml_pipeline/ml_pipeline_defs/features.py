"""Features: the model's inputs, computed from the ingested subscribers.

Everything the model sees is built here, and the train/test split is fixed by
each subscriber's id (a hash), so it never moves when rows are added or the
code is re-run.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from assets_core import asset
from assets_core import checks as c

FEATURE_COLUMNS = [
    "tenure_months",
    "monthly_fee",
    "logins_per_week",
    "tickets_per_month",
    "late_payments_12m",
    "is_annual",
    "plan_standard",
    "plan_premium",
]
TEST_SHARE_PERCENT = 25


def split_of(subscriber_id: str) -> str:
    """'test' for a fixed share of ids, 'train' for the rest, the same on every run."""
    bucket = int(hashlib.sha256(subscriber_id.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < TEST_SHARE_PERCENT else "train"


def logins_per_week(logins_30d: pd.Series) -> pd.Series:
    """Weekly logins; a missing count is read as the median subscriber's."""
    return (logins_30d.fillna(logins_30d.median()) / (30 / 7)).astype(float).round(3)


@asset(
    key_prefix="ml",
    checks=[c.not_null(*FEATURE_COLUMNS), c.accepted_values("split", ["train", "test"])],
)
def features(subscribers: pd.DataFrame) -> pd.DataFrame:
    """One row per subscriber: id, split, the feature columns and the label."""
    out = pd.DataFrame(
        {
            "subscriber_id": subscribers["subscriber_id"],
            "split": subscribers["subscriber_id"].map(split_of),
            "tenure_months": subscribers["tenure_months"].astype(float),
            "monthly_fee": subscribers["monthly_fee"].astype(float),
            "logins_per_week": logins_per_week(subscribers["logins_30d"]),
            "tickets_per_month": (subscribers["support_tickets_90d"] / 3).round(3),
            "late_payments_12m": subscribers["late_payments_12m"].astype(float),
            "is_annual": (subscribers["contract"] == "annual").astype(float),
            "plan_standard": (subscribers["plan"] == "standard").astype(float),
            "plan_premium": (subscribers["plan"] == "premium").astype(float),
            "churned": subscribers["churned"].astype(int),
        }
    )
    return out.reset_index(drop=True)
