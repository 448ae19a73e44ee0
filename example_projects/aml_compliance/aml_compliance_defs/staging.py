"""Staging: the raw exports typed, deduplicated and made consistent.

The checks here are the first gate: a transaction that names no KYC'd customer,
or a transaction id the export used twice for different bookings, stops the
run before any monitoring rule sees the data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assets_core import asset
from assets_core import checks as c

TRANSACTION_TYPES = ("card_payment", "wire_in", "wire_out", "cash_deposit", "cash_withdrawal")


def _read(paths: list[Path]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths])


@asset(
    key_prefix="staging", tags=["pii"], checks=[c.not_null("customer_id"), c.unique("customer_id")]
)
def customers(kyc_customers: list[Path]) -> pd.DataFrame:
    """The KYC register: one row per customer with its risk rating and PEP flag."""
    df = _read(kyc_customers)
    df["name"] = df["name"].str.strip()
    df["country"] = df["country"].str.strip().str.upper()
    df["pep"] = df["pep"].eq("Y")
    for col in ("kyc_reviewed_on", "onboarded_on"):
        df[col] = pd.to_datetime(df[col])
    return df.sort_values("customer_id").reset_index(drop=True)


@asset(
    key_prefix="staging",
    deps=["staging/customers"],  # read by the relationships check below
    checks=[
        c.not_null("txn_id", "customer_id", "booked_at", "type", "amount"),
        c.unique("txn_id"),
        c.accepted_values("type", TRANSACTION_TYPES),
        c.expression("amount > 0", name="positive_amount"),
        c.relationships("customer_id", to="staging/customers", field="customer_id"),
    ],
)
def transactions(bank_transactions: list[Path]) -> pd.DataFrame:
    """Every booking once, typed: amounts in EUR, country codes upper case, names trimmed."""
    df = _read(bank_transactions).drop_duplicates()
    df["booked_at"] = pd.to_datetime(df["booked_at"])
    df["amount"] = pd.to_numeric(df["amount"]).round(2)
    df["counterparty"] = df["counterparty"].str.strip()
    df["counterparty_country"] = df["counterparty_country"].str.strip().str.upper()
    return df.sort_values(["booked_at", "txn_id"]).reset_index(drop=True)


@asset(key_prefix="staging", checks=[c.unique("entry_id"), c.not_null("name")])
def sanctions(sanctions_list: list[Path]) -> pd.DataFrame:
    """Sanctions entries, one row per entry with its aliases as a list."""
    df = _read(sanctions_list)
    df["aliases"] = df["aliases"].map(lambda s: [a.strip() for a in s.split(";") if a.strip()])
    df["listed_on"] = pd.to_datetime(df["listed_on"])
    return df.sort_values("entry_id").reset_index(drop=True)


@asset(key_prefix="staging", checks=[c.unique("country")])
def high_risk_countries(high_risk_jurisdictions: list[Path]) -> pd.DataFrame:
    """High-risk jurisdictions by ISO country code."""
    df = _read(high_risk_jurisdictions)
    df["country"] = df["country"].str.strip().str.upper()
    return df.sort_values("country").reset_index(drop=True)
