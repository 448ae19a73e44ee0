"""The case queue's reconciliation check.

The queue itself is a SQL asset, ``models/aml/case_queue.sql``: alerts grouped
into one case per customer and quarter, scored and prioritised for review. A
custom check on a SQL asset receives a handle on the new (staged) table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from assets_core import CheckResult, check


@check("aml/case_queue", blocking=True)
def every_alert_in_a_case(case_queue: Any, flagged_transactions: pd.DataFrame) -> CheckResult:
    """No alert is dropped on its way into the queue: the cases hold exactly the alerts."""
    queue = case_queue.to_pandas()
    per_customer = flagged_transactions.groupby("customer_id").size()
    in_cases = queue.groupby("customer_id")["alerts"].sum()
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
