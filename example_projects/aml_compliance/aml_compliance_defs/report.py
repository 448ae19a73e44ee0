"""The quarterly report to the compliance officer: a figures table, a Markdown summary, files.

``aml/quarterly_report`` and ``aml/quarterly_summary`` are pure: they return the
report as values, which the catalog versions and ``assets show --version``
traces to the code and data that produced them. ``aml/report_export`` is the
one asset with a side effect: it writes both to ``reports/`` for the people
who read files. A blocking check on the report stops a wrong one before it is
published, so the export never sees it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from aml_compliance_defs.rules import RULES
from assets_core import CheckResult, Freshness, asset, check
from assets_core import checks as c

QUARTER = "2024Q1"
REPORTS_DIR = Path(__file__).resolve().parents[1] / "reports"


def _in_quarter(frame: pd.DataFrame, column: str = "booked_at") -> pd.DataFrame:
    return frame[frame[column].dt.to_period("Q").astype(str) == QUARTER]


def _row(section: str, item: str, count: int, amount: float) -> dict[str, object]:
    return {
        "quarter": QUARTER,
        "section": section,
        "item": item,
        "count": int(count),
        "amount_eur": round(float(amount), 2),
    }


@asset(
    key_prefix="aml",
    freshness=Freshness(max_lag="92d"),  # one report a quarter
    checks=[
        c.not_null("section", "item", "count", "amount_eur"),
        c.unique("section", "item"),
        c.expression("count >= 0", name="non_negative_counts"),
    ],
)
def quarterly_report(
    transactions: pd.DataFrame, flagged_transactions: pd.DataFrame, case_queue: pd.DataFrame
) -> pd.DataFrame:
    """The quarter's figures: activity by type, alerts by rule, cases by priority."""
    txns = _in_quarter(transactions)
    alerts = _in_quarter(flagged_transactions)
    cases = case_queue[case_queue["quarter"] == QUARTER]
    rows = [_row("activity", "all transactions", len(txns), txns["amount"].sum())]
    for kind, group in txns.groupby("type", sort=True):
        rows.append(_row("activity", kind, len(group), group["amount"].sum()))
    for rule in RULES:
        hits = alerts[alerts["rule"] == rule]
        rows.append(_row("alerts", rule, len(hits), hits["amount"].sum()))
    distinct = alerts.drop_duplicates("txn_id")
    rows.append(_row("alerts", "flagged transactions", len(distinct), distinct["amount"].sum()))
    rows.append(_row("cases", "opened", len(cases), cases["flagged_amount_eur"].sum()))
    for priority in ("P1", "P2", "P3"):
        group = cases[cases["priority"] == priority]
        rows.append(_row("cases", priority, len(group), group["flagged_amount_eur"].sum()))
    return pd.DataFrame(rows)


@check(quarterly_report, blocking=True)
def totals_reconcile_with_source(
    quarterly_report: pd.DataFrame,
    transactions: pd.DataFrame,
    flagged_transactions: pd.DataFrame,
    case_queue: pd.DataFrame,
) -> CheckResult:
    """The report's totals equal those recomputed from the staged transactions and alerts.

    Counted independently of the report's code: the quarter's bookings by date
    range, the alerts by their transactions, the cases by id.
    """
    year, q = int(QUARTER[:4]), int(QUARTER[-1])
    start = pd.Timestamp(year=year, month=3 * q - 2, day=1)
    end = start + pd.DateOffset(months=3)

    def within(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame["booked_at"] >= start) & (frame["booked_at"] < end)]

    txns, alerts = within(transactions), within(flagged_transactions)
    flagged = txns[txns["txn_id"].isin(alerts["txn_id"])]
    expected = {
        ("activity", "all transactions"): (len(txns), txns["amount"].sum()),
        ("alerts", "flagged transactions"): (len(flagged), flagged["amount"].sum()),
        ("cases", "opened"): (
            case_queue.loc[case_queue["quarter"] == QUARTER, "case_id"].nunique(),
            alerts.drop_duplicates("txn_id")["amount"].sum(),
        ),
    }
    report = quarterly_report.set_index(["section", "item"])
    problems = []
    for (section, item), (count, amount) in expected.items():
        got = report.loc[(section, item)] if (section, item) in report.index else None
        if got is None or int(got["count"]) != count or abs(got["amount_eur"] - amount) > 0.01:
            shown = "missing" if got is None else f"{got['count']} / {got['amount_eur']:.2f}"
            problems.append(f"{section}/{item}: report {shown}, source {count} / {amount:.2f}")
    by_type = report.loc["activity"].drop(index="all transactions", errors="ignore")
    if int(by_type["count"].sum()) != len(txns):
        problems.append(f"activity by type adds up to {by_type['count'].sum()}, not {len(txns)}")
    return CheckResult(
        passed=not problems,
        description="; ".join(problems) or "totals reconcile with the source",
        failing_rows=len(problems),
    )


@asset(key_prefix="aml")
def quarterly_summary(quarterly_report: pd.DataFrame, case_queue: pd.DataFrame) -> str:
    """The report as a short Markdown document for the compliance officer."""
    r = quarterly_report.set_index(["section", "item"])
    total = r.loc[("activity", "all transactions")]
    flagged = r.loc[("alerts", "flagged transactions")]
    opened = r.loc[("cases", "opened")]
    share = flagged["amount_eur"] / total["amount_eur"] if total["amount_eur"] else 0.0
    lines = [
        f"# AML transaction monitoring: {QUARTER}",
        "",
        f"- Transactions monitored: {total['count']:,} ({total['amount_eur']:,.2f} EUR)",
        f"- Transactions flagged: {flagged['count']:,} ({flagged['amount_eur']:,.2f} EUR, "
        f"{share:.2%} of volume)",
        f"- Cases opened: {opened['count']:,} "
        f"(P1 {r.loc[('cases', 'P1'), 'count']}, P2 {r.loc[('cases', 'P2'), 'count']}, "
        f"P3 {r.loc[('cases', 'P3'), 'count']})",
        "",
        "## Alerts by rule",
        "",
        "| rule | severity | alerts | amount (EUR) |",
        "|---|---|---:|---:|",
    ]
    for rule, (severity, _) in RULES.items():
        row = r.loc[("alerts", rule)]
        lines.append(f"| {rule} | {severity} | {row['count']} | {row['amount_eur']:,.2f} |")
    top = case_queue[(case_queue["quarter"] == QUARTER) & (case_queue["priority"] == "P1")]
    top = top.sort_values(["score", "case_id"], ascending=[False, True])
    lines += [
        "",
        "## Priority 1 cases",
        "",
        "| case | customer | rules | flagged (EUR) |",
        "|---|---|---|---:|",
    ]
    for case in top.itertuples(index=False):
        lines.append(
            f"| {case.case_id} | {case.customer_name} | {case.rules} "
            f"| {case.flagged_amount_eur:,.2f} |"
        )
    return "\n".join(lines) + "\n"


def _write(path: Path, data: bytes) -> str:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    return hashlib.sha256(data).hexdigest()


@asset(key_prefix="aml")
def report_export(quarterly_report: pd.DataFrame, quarterly_summary: str) -> dict[str, str]:
    """Write the published report to ``reports/`` (CSV and Markdown); return names and hashes."""
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"aml_report_{QUARTER}"
    csv_bytes = quarterly_report.to_csv(index=False, lineterminator="\n").encode()
    return {
        f"reports/{stem}.csv": _write(REPORTS_DIR / f"{stem}.csv", csv_bytes),
        f"reports/{stem}.md": _write(REPORTS_DIR / f"{stem}.md", quarterly_summary.encode()),
    }
