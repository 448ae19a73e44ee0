"""The BI layer the dashboard reads: attributed orders, daily ROAS, headline KPIs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import polars as pl

from assets_core import Freshness, asset
from assets_core import checks as c
from bi_dashboard_defs.attribution import last_touch

# The dashboard is read from 07:00: each morning's numbers must be built by then
# (warn at once, error when still missing at 09:00).
BY_SEVEN = Freshness(cron="0 7 * * *", tz="Europe/Berlin", error_after="2h")


@asset(
    key_prefix="bi",
    tags=["pii"],
    checks=[
        c.not_null("order_id", "customer_id", "channel"),
        c.unique("order_id"),
        c.relationships("order_id", to="staging/orders", field="order_id"),
        # an attributed campaign (empty = organic or direct) is one the ad platforms know
        c.relationships("campaign_id", to="staging/campaigns", field="campaign_id"),
    ],
    # column lineage (assets lineage bi/customer_journey --column channel)
    columns={
        "order_id": ["orders.order_id"],
        "customer_id": ["orders.customer_id"],
        "order_date": ["orders.order_date"],
        "amount_usd": ["orders.amount_usd"],
        "lead_id": ["leads.lead_id"],
        "lead_created_at": ["leads.created_at"],
        "days_to_convert": ["orders.order_date", "leads.created_at"],
        "campaign_id": ["leads.campaign_id"],
        "platform": ["campaigns.platform"],
        "channel": ["campaigns.channel", "leads.lead_id"],
    },
)
def customer_journey(
    orders: pd.DataFrame, leads: pd.DataFrame, campaigns: pl.DataFrame
) -> pd.DataFrame:
    """One row per order with the lead, campaign and channel it is attributed to.

    Channel is the campaign's channel, ``organic`` for a lead without a campaign,
    and ``direct`` when no lead of the customer is within the attribution window.
    """
    journey = last_touch(orders, leads)
    channels = campaigns.select("campaign_id", "platform", "channel").to_pandas()
    journey = journey.merge(channels, on="campaign_id", how="left")
    journey["channel"] = journey["channel"].where(journey["lead_id"].notna(), "direct")
    journey["channel"] = journey["channel"].fillna("organic")
    return journey[
        [
            "order_id",
            "customer_id",
            "order_date",
            "amount_usd",
            "lead_id",
            "lead_created_at",
            "days_to_convert",
            "campaign_id",
            "platform",
            "channel",
        ]
    ]


@asset(
    key_prefix="bi",
    freshness=BY_SEVEN,
    checks=[
        c.not_null("date", "channel"),
        c.unique("date", "channel"),
        c.expression("spend >= 0", name="spend_not_negative"),
        c.expression("revenue >= 0", name="revenue_not_negative", blocking=False),  # a warning
    ],
    columns={
        "date": ["ad_spend.date"],
        "channel": ["ad_spend.channel"],
        "spend": ["ad_spend.spend"],
        "clicks": ["ad_spend.clicks"],
        "orders": ["customer_journey.order_id"],
        "revenue": ["customer_journey.amount_usd"],
        "roas": ["customer_journey.amount_usd", "ad_spend.spend"],
    },
)
def roas_daily(ad_spend: pl.DataFrame, customer_journey: pd.DataFrame) -> pl.DataFrame:
    """Per day and paid channel: spend, clicks, attributed orders and revenue, ROAS."""
    spend = ad_spend.group_by("date", "channel").agg(
        spend=pl.col("spend").sum(), clicks=pl.col("clicks").sum()
    )
    revenue = (
        pl.from_pandas(customer_journey[["order_date", "channel", "amount_usd"]])
        .with_columns(date=pl.col("order_date").dt.date())
        .group_by("date", "channel")
        .agg(orders=pl.len().cast(pl.Int64), revenue=pl.col("amount_usd").sum())
    )
    return (
        spend.join(revenue, on=["date", "channel"], how="left")
        .with_columns(pl.col("orders").fill_null(0), pl.col("revenue").fill_null(0.0))
        .with_columns(
            spend=pl.col("spend").round(2),
            revenue=pl.col("revenue").round(2),
            roas=(pl.col("revenue") / pl.col("spend")).round(3),
        )
        .select("date", "channel", "spend", "clicks", "orders", "revenue", "roas")
        .sort("date", "channel")
    )


@asset(
    key_prefix="bi",
    ins={"roas": "bi/roas_daily", "journey": "bi/customer_journey"},
    freshness=BY_SEVEN,
)
def dashboard_kpis(
    roas: pl.DataFrame, journey: pd.DataFrame, leads: pd.DataFrame
) -> dict[str, Any]:
    """Headline numbers for the dashboard's tiles, as a plain dict (stored pickled)."""
    by_channel = roas.group_by("channel").agg(pl.col("spend").sum(), pl.col("revenue").sum())
    roas_by_channel = {
        row["channel"]: round(row["revenue"] / row["spend"], 3)
        for row in by_channel.sort("channel").iter_rows(named=True)
    }
    spend = float(roas["spend"].sum())
    paid_revenue = float(roas["revenue"].sum())
    converted = journey.loc[journey["lead_id"].notna(), "customer_id"].nunique()
    return {
        "first_day": roas["date"].min().isoformat(),
        "last_day": roas["date"].max().isoformat(),
        "spend_usd": round(spend, 2),
        "revenue_usd": round(float(journey["amount_usd"].sum()), 2),
        "paid_revenue_usd": round(paid_revenue, 2),
        "blended_roas": round(paid_revenue / spend, 3),
        "roas_by_channel": roas_by_channel,
        "best_channel": max(roas_by_channel, key=roas_by_channel.__getitem__),
        "orders": len(journey),
        "lead_conversion_rate": round(converted / leads["customer_id"].nunique(), 3),
    }
