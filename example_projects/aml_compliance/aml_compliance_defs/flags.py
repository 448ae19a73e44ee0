"""Monitoring: one asset per rule, and every alert together in ``aml/flagged_transactions``.

One asset per rule means a change to one rule (its code or a threshold it
reads) recomputes that rule's hits and what is downstream of them, never the
other rules.
"""

from __future__ import annotations

import pandas as pd

from aml_compliance_defs import rules
from assets_core import CheckResult, asset, check
from assets_core import checks as c


@asset(key_prefix="aml")
def sanctions_hits(transactions: pd.DataFrame, sanctions: pd.DataFrame) -> pd.DataFrame:
    """Payments to or from a counterparty on the sanctions list."""
    return rules.sanctioned_counterparty(transactions, sanctions)


@asset(key_prefix="aml")
def structuring_hits(transactions: pd.DataFrame) -> pd.DataFrame:
    """Cash deposits that look split to stay under the reporting threshold."""
    return rules.structuring(transactions)


@asset(key_prefix="aml")
def high_risk_hits(transactions: pd.DataFrame, high_risk_countries: pd.DataFrame) -> pd.DataFrame:
    """Wires to or from high-risk jurisdictions."""
    return rules.high_risk_jurisdiction(transactions, high_risk_countries)


@asset(key_prefix="aml")
def velocity_hits(transactions: pd.DataFrame) -> pd.DataFrame:
    """Bursts of outgoing payments."""
    return rules.unusual_velocity(transactions)


@asset(
    key_prefix="aml",
    checks=[
        c.not_null("alert_id", "txn_id", "customer_id", "rule", "evidence"),
        c.unique("alert_id"),
        c.accepted_values("rule", list(rules.RULES)),
        c.relationships("txn_id", to="staging/transactions", field="txn_id"),
    ],
)
def flagged_transactions(
    sanctions_hits: pd.DataFrame,
    structuring_hits: pd.DataFrame,
    high_risk_hits: pd.DataFrame,
    velocity_hits: pd.DataFrame,
) -> pd.DataFrame:
    """Every alert: one row per (transaction, rule), with the rule's severity and evidence."""
    alerts = pd.concat(
        [sanctions_hits, structuring_hits, high_risk_hits, velocity_hits], ignore_index=True
    )
    alerts.insert(0, "alert_id", alerts["rule"] + ":" + alerts["txn_id"])
    alerts["severity"] = alerts["rule"].map(lambda r: rules.RULES[r][0])
    return alerts.sort_values(["booked_at", "alert_id"]).reset_index(drop=True)


@check(flagged_transactions, blocking=True)
def every_alert_traceable_to_a_rule(
    flagged_transactions: pd.DataFrame, transactions: pd.DataFrame
) -> CheckResult:
    """Each alert names a known rule, carries its evidence, and matches the booking it flags.

    An alert whose amount, customer or time differs from the staged transaction
    (a join gone wrong, a column shifted) would put a wrong figure in the report.
    """
    booked = transactions.set_index("txn_id")[["customer_id", "booked_at", "amount"]]
    joined = flagged_transactions.join(booked, on="txn_id", rsuffix="_booked")
    bad = joined[
        ~joined["rule"].isin(list(rules.RULES))
        | joined["evidence"].fillna("").str.strip().eq("")
        | joined["customer_id_booked"].isna()
        | (joined["customer_id"] != joined["customer_id_booked"])
        | (joined["booked_at"] != joined["booked_at_booked"])
        | ((joined["amount"] - joined["amount_booked"]).abs() > 0.005)
    ]
    return CheckResult(
        passed=bad.empty,
        description=f"{len(bad)} alert(s) not traceable to a rule and its booking",
        failing_rows=len(bad),
        sample=bad[["alert_id", "rule", "customer_id", "amount"]].head(5).to_dict("records"),
    )
