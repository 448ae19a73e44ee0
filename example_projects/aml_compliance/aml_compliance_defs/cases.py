"""The case queue: alerts grouped into one case per customer and quarter, highest priority first."""

from __future__ import annotations

import pandas as pd

from assets_core import CheckResult, asset, check
from assets_core import checks as c

# How much each finding adds to a case's score; a case with a critical alert is always P1.
SEVERITY_POINTS = {"critical": 100, "high": 40, "medium": 15}
RISK_POINTS = {"high": 20, "medium": 5, "low": 0}
PEP_POINTS = 20
P1_SCORE = 60
P2_SCORE = 30


def _priority(score: int, critical: bool) -> str:
    if critical or score >= P1_SCORE:
        return "P1"
    return "P2" if score >= P2_SCORE else "P3"


@asset(
    key_prefix="aml",
    tags=["pii"],
    checks=[
        c.not_null("case_id", "customer_id", "priority"),
        c.unique("case_id"),
        c.accepted_values("priority", ["P1", "P2", "P3"]),
    ],
)
def case_queue(flagged_transactions: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """One open case per customer and quarter with alerts, scored and prioritised for review."""
    alerts = flagged_transactions.assign(
        quarter=flagged_transactions["booked_at"].dt.to_period("Q").astype(str)
    )
    kyc = customers.set_index("customer_id")
    rows = []
    for (quarter, customer_id), group in alerts.groupby(["quarter", "customer_id"], sort=True):
        who = kyc.loc[customer_id]
        rule_names = sorted(set(group["rule"]))
        severities = {s for s in group["severity"]}
        score = (
            sum(SEVERITY_POINTS[s] for s in group.drop_duplicates("rule")["severity"])
            + RISK_POINTS[who["risk_rating"]]
            + (PEP_POINTS if who["pep"] else 0)
        )
        rows.append(
            {
                "case_id": f"{quarter}-{customer_id}",
                "quarter": quarter,
                "customer_id": customer_id,
                "customer_name": who["name"],
                "segment": who["segment"],
                "risk_rating": who["risk_rating"],
                "pep": bool(who["pep"]),
                "alerts": len(group),
                "transactions": group["txn_id"].nunique(),
                "rules": "; ".join(rule_names),
                "flagged_amount_eur": round(group.drop_duplicates("txn_id")["amount"].sum(), 2),
                "first_alert_at": group["booked_at"].min(),
                "last_alert_at": group["booked_at"].max(),
                "score": int(score),
                "priority": _priority(score, "critical" in severities),
                "status": "open",
            }
        )
    queue = pd.DataFrame(rows)
    return queue.sort_values(["quarter", "score", "case_id"], ascending=[True, False, True])[
        list(rows[0])
    ].reset_index(drop=True)


@check(case_queue, blocking=True)
def every_alert_in_a_case(
    case_queue: pd.DataFrame, flagged_transactions: pd.DataFrame
) -> CheckResult:
    """No alert is dropped on its way into the queue: the cases hold exactly the alerts."""
    per_customer = flagged_transactions.groupby("customer_id").size()
    in_cases = case_queue.groupby("customer_id")["alerts"].sum()
    diff = per_customer.sub(in_cases, fill_value=0)
    missing = diff[diff != 0]
    return CheckResult(
        passed=missing.empty,
        description=f"{len(missing)} customer(s) whose alerts and cases disagree",
        failing_rows=len(missing),
        metadata={"alerts": int(per_customer.sum()), "alerts_in_cases": int(in_cases.sum())},
        sample=[
            {"customer_id": k, "alerts_minus_cases": int(v)} for k, v in missing.head(5).items()
        ],
    )
