"""The transaction monitoring rules (a helper module, not an asset).

Each rule is a plain function from staged frames to the transactions it flags,
one row per flagged transaction with the rule's name and the evidence a
reviewer needs to see why. The thresholds are module constants: an asset that
calls a rule is stale when the rule's code or one of the constants it reads
changes, and only then.
"""

from __future__ import annotations

import pandas as pd

from aml_compliance_defs.screening import normalize_name, watchlist

# rule name -> (severity, what it detects); the names are what flagged rows carry
RULES = {
    "sanctioned_counterparty": ("critical", "counterparty matches a sanctions list entry"),
    "structuring": ("high", "several cash deposits just under the reporting threshold"),
    "high_risk_jurisdiction": ("medium", "wire to or from a high-risk jurisdiction"),
    "unusual_velocity": ("medium", "burst of outgoing payments within a day"),
}

REPORTING_THRESHOLD_EUR = 10_000.0
STRUCTURING_FLOOR = 0.9  # deposits from 90% of the threshold up to it are "just under"
STRUCTURING_WINDOW_DAYS = 5
STRUCTURING_MIN_DEPOSITS = 3
HIGH_RISK_MIN_AMOUNT_EUR = 1_000.0
VELOCITY_WINDOW_HOURS = 24
VELOCITY_MAX_OUTGOING = 6  # more outgoing payments than this within the window is unusual

OUTGOING = ("wire_out", "card_payment", "cash_withdrawal")
FLAG_COLUMNS = [
    "txn_id",
    "customer_id",
    "booked_at",
    "type",
    "amount",
    "counterparty",
    "counterparty_country",
    "rule",
    "evidence",
]


def _flagged(rows: pd.DataFrame, rule: str, evidence: pd.Series | list[str]) -> pd.DataFrame:
    out = rows.assign(rule=rule, evidence=list(evidence))
    return out[FLAG_COLUMNS].sort_values("txn_id").reset_index(drop=True)


def sanctioned_counterparty(transactions: pd.DataFrame, sanctions: pd.DataFrame) -> pd.DataFrame:
    """Payments whose counterparty's normalized name is a listed name or alias."""
    listed = watchlist(sanctions)
    hits = transactions["counterparty"].map(lambda n: listed.get(normalize_name(n)) if n else None)
    rows = transactions[hits.notna()]
    evidence = [
        f"counterparty {name!r} matches {entry} ({listed_as!r})"
        for name, (entry, listed_as) in zip(rows["counterparty"], hits[hits.notna()], strict=True)
    ]
    return _flagged(rows, "sanctioned_counterparty", evidence)


def structuring(transactions: pd.DataFrame) -> pd.DataFrame:
    """Cash deposits just under the threshold, at least N of them within a few days."""
    floor = REPORTING_THRESHOLD_EUR * STRUCTURING_FLOOR
    window = pd.Timedelta(days=STRUCTURING_WINDOW_DAYS)
    deposits = transactions[
        (transactions["type"] == "cash_deposit")
        & (transactions["amount"] >= floor)
        & (transactions["amount"] < REPORTING_THRESHOLD_EUR)
    ].sort_values(["customer_id", "booked_at"])
    keep: dict[str, str] = {}
    for _, group in deposits.groupby("customer_id", sort=True):
        times = list(group["booked_at"])
        ids = list(group["txn_id"])
        for i, start in enumerate(times):
            run = [j for j in range(i, len(times)) if times[j] - start <= window]
            if len(run) >= STRUCTURING_MIN_DEPOSITS:
                total = group["amount"].iloc[run].sum()
                note = (
                    f"{len(run)} cash deposits of {floor:,.0f}-{REPORTING_THRESHOLD_EUR:,.0f} EUR "
                    f"within {STRUCTURING_WINDOW_DAYS} days from {start:%Y-%m-%d} "
                    f"(total {total:,.2f} EUR)"
                )
                for j in run:
                    keep.setdefault(ids[j], note)
    rows = deposits[deposits["txn_id"].isin(keep)].sort_values("txn_id")
    return _flagged(rows, "structuring", [keep[t] for t in rows["txn_id"]])


def high_risk_jurisdiction(transactions: pd.DataFrame, high_risk: pd.DataFrame) -> pd.DataFrame:
    """Wires of at least the minimum amount to or from a listed country."""
    lists = dict(zip(high_risk["country"], high_risk["list"], strict=True))
    rows = transactions[
        transactions["type"].isin(["wire_in", "wire_out"])
        & transactions["counterparty_country"].isin(list(lists))
        & (transactions["amount"] >= HIGH_RISK_MIN_AMOUNT_EUR)
    ].sort_values("txn_id")
    evidence = [
        f"{kind} of {amount:,.2f} EUR with {country} ({lists[country]})"
        for kind, amount, country in zip(
            rows["type"], rows["amount"], rows["counterparty_country"], strict=True
        )
    ]
    return _flagged(rows, "high_risk_jurisdiction", evidence)


def unusual_velocity(transactions: pd.DataFrame) -> pd.DataFrame:
    """Outgoing payments of a customer that are part of more than N within the window."""
    window = pd.Timedelta(hours=VELOCITY_WINDOW_HOURS)
    out = transactions[transactions["type"].isin(OUTGOING)].sort_values(
        ["customer_id", "booked_at"]
    )
    keep: dict[str, str] = {}
    for customer, group in out.groupby("customer_id", sort=True):
        times = list(group["booked_at"])
        ids = list(group["txn_id"])
        for i, start in enumerate(times):
            run = [j for j in range(i, len(times)) if times[j] - start <= window]
            if len(run) > VELOCITY_MAX_OUTGOING:
                note = (
                    f"{len(run)} outgoing payments by {customer} within "
                    f"{VELOCITY_WINDOW_HOURS}h from {start:%Y-%m-%d %H:%M}"
                )
                for j in run:
                    keep.setdefault(ids[j], note)
    rows = out[out["txn_id"].isin(keep)].sort_values("txn_id")
    return _flagged(rows, "unusual_velocity", [keep[t] for t in rows["txn_id"]])
