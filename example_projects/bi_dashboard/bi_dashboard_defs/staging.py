"""Staging: the raw exports, typed, deduplicated and made consistent.

Ad spend is cleaned with polars, leads and orders with pandas; the framework
stores either kind of frame as parquet and hands it back as the same kind.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl

from assets_core import asset
from assets_core import checks as c
from bi_dashboard_defs.fx import to_usd

AD_EXPORT_SCHEMA = {
    "date": pl.Date,
    "campaign_id": pl.String,
    "channel": pl.String,
    "spend": pl.Float64,
    "clicks": pl.Int64,
}


@asset(
    key_prefix="staging",
    checks=[
        c.not_null("date", "platform", "campaign_id", "channel"),
        c.unique("date", "platform", "campaign_id"),
        c.expression("spend >= 0", name="spend_not_negative"),
    ],
)
def ad_spend(ad_spend_google: list[Path], ad_spend_meta: list[Path]) -> pl.DataFrame:
    """Daily spend (USD) and clicks per campaign from both ad platforms, deduplicated."""
    frames = [
        pl.read_csv(path, schema=AD_EXPORT_SCHEMA).with_columns(platform=pl.lit(platform))
        for platform, paths in (("google", ad_spend_google), ("meta", ad_spend_meta))
        for path in paths
    ]
    return (
        pl.concat(frames)
        .with_columns(pl.col("campaign_id").str.strip_chars().str.to_uppercase())
        .unique(maintain_order=True)
        .select("date", "platform", "campaign_id", "channel", "spend", "clicks")
        .sort("date", "platform", "campaign_id")
    )


@asset(key_prefix="staging", checks=[c.not_null("campaign_id"), c.unique("campaign_id")])
def campaigns(ad_spend: pl.DataFrame) -> pl.DataFrame:
    """One row per campaign: its platform, channel, active days and total spend."""
    return (
        ad_spend.group_by("campaign_id", "platform", "channel")
        .agg(
            first_day=pl.col("date").min(),
            last_day=pl.col("date").max(),
            spend=pl.col("spend").sum().round(2),
        )
        .sort("campaign_id")
    )


@asset(
    key_prefix="staging",
    tags=["pii"],
    checks=[c.not_null("lead_id", "customer_id", "created_at"), c.unique("lead_id")],
)
def leads(crm_leads: list[Path]) -> pd.DataFrame:
    """CRM leads with parsed timestamps and normalized campaign ids (missing = organic)."""
    df = pd.concat([pd.read_csv(p, dtype={"campaign_id": "str"}) for p in crm_leads])
    df["campaign_id"] = df["campaign_id"].str.strip().str.upper()
    df["created_at"] = pd.to_datetime(df["created_at"])
    df = df.drop_duplicates()
    return df.sort_values(["created_at", "lead_id"]).reset_index(drop=True)


# the CRM's field names -> ours
OPPORTUNITY_COLUMNS = {
    "Id": "opportunity_id",
    "ConvertedFromLeadId": "lead_id",
    "AccountId": "customer_id",
    "StageName": "stage",
    "Amount": "amount",
    "CreatedDate": "created_on",
    "CloseDate": "closed_on",
}
STAGES = ["qualification", "proposal", "negotiation", "closed_won", "closed_lost"]


@asset(
    key_prefix="staging",
    checks=[
        c.not_null("opportunity_id", "lead_id", "stage", "amount", "created_on"),
        c.unique("opportunity_id"),
        c.accepted_values("stage", STAGES),
        c.expression("amount >= 0", name="amount_not_negative"),
        # every deal comes from a lead the CRM export knows
        c.relationships("lead_id", to="staging/leads", field="lead_id"),
    ],
)
def opportunities(crm_opportunities: list[Path]) -> pd.DataFrame:
    """CRM opportunities with our column names, stages in snake case, duplicates dropped."""
    df = pd.concat([pd.read_csv(p, dtype={"Id": "str"}) for p in crm_opportunities])
    df = df.rename(columns=OPPORTUNITY_COLUMNS)[list(OPPORTUNITY_COLUMNS.values())]
    df["stage"] = df["stage"].str.strip().str.lower().str.replace(" ", "_")
    df["created_on"] = pd.to_datetime(df["created_on"])
    df["closed_on"] = pd.to_datetime(df["closed_on"])
    df = df.drop_duplicates()
    return df.sort_values("opportunity_id").reset_index(drop=True)


@asset(
    key_prefix="staging",
    checks=[
        c.not_null("order_id", "customer_id", "order_date", "amount_usd"),
        c.unique("order_id"),
        c.accepted_values("currency", ["USD", "EUR", "GBP"]),
        c.expression("amount_usd > 0", name="amount_positive"),
    ],
    columns={"amount_usd": ["shop_orders.amount", "shop_orders.currency"]},
)
def orders(shop_orders: list[Path]) -> pd.DataFrame:
    """Real orders (test orders of amount 0 and duplicate rows dropped), with ``amount_usd``."""
    df = pd.concat([pd.read_csv(p) for p in shop_orders])
    df["order_date"] = pd.to_datetime(df["order_date"])
    df = df.drop_duplicates("order_id")
    df = df[df["amount"] > 0].copy()
    df["amount_usd"] = to_usd(df["amount"], df["currency"])
    return df.sort_values("order_id").reset_index(drop=True)
