"""End to end: the aml_compliance example through the CLI, in a fresh copy.

Builds the quarterly report from nothing, shows that reformatting (Python and
SQL) changes nothing, that a threshold change recomputes exactly one rule and what is
downstream of it, that a transaction without a KYC'd customer is quarantined
while the previous data and report stay published, that a report whose totals
do not reconcile is stopped before it is exported, that fixing the input
publishes again, and that an auditor can trace the published report to its code
and input versions with `assets show --version`.
"""

from __future__ import annotations

import subprocess
import sys

from example_story import (
    EXAMPLES,
    check_results,
    copy_example,
    dump,
    edit,
    planned,
    published,
    quarantined_keys,
    statuses,
)

ASSETS = [
    "staging/customers",
    "staging/sanctions",
    "staging/high_risk_countries",
    "staging/transactions",
    "aml/sanctions_hits",
    "aml/structuring_hits",
    "aml/high_risk_hits",
    "aml/velocity_hits",
    "aml/flagged_transactions",
    "aml/case_queue",
    "aml/quarterly_report",
    "aml/quarterly_summary",
    "aml/report_export",
]
DOWNSTREAM_OF_TRANSACTIONS = ASSETS[4:]
REPORT_CSV = "reports/aml_report_2024Q1.csv"
REPORT_MD = "reports/aml_report_2024Q1.md"


def test_aml_example_gates_the_quarterly_report_and_rebuilds_only_what_changed(
    tmp_path, cli_json, run_cli, catalog_rows
) -> None:
    proj = copy_example("aml_compliance", tmp_path)
    defs = proj / "aml_compliance_defs"

    # from nothing: every asset is built and the report is exported
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == dict.fromkeys(ASSETS, "success"), dump(run)
    assert all(check_results(run, "aml/quarterly_report").values())
    csv_text = (proj / REPORT_CSV).read_text()
    assert csv_text.startswith("quarter,section,item,count,amount_eur\n")
    assert "2024Q1,alerts,structuring," in csv_text
    assert (proj / REPORT_MD).read_text().startswith("# AML transaction monitoring: 2024Q1")
    assert planned(cli_json, proj) == {}

    # formatting only: comments, line breaks, a docstring, SQL keyword case: no code version
    edit(
        defs / "rules.py",
        "    floor = REPORTING_THRESHOLD_EUR * STRUCTURING_FLOOR\n",
        "    # deposits at or above the floor and under the threshold are suspicious\n"
        "    floor = (\n        REPORTING_THRESHOLD_EUR\n        * STRUCTURING_FLOOR\n    )\n",
    )
    edit(
        defs / "report.py",
        '    """The quarter\'s figures: activity by type, alerts by rule, cases by priority."""',
        '    """The quarter\'s figures (reworded docstring)."""  # and a comment',
    )
    edit(
        proj / "models" / "aml" / "case_queue.sql",
        "    SELECT DISTINCT quarter, customer_id, rule, severity FROM alerts\n",
        "    select distinct\n        quarter, customer_id,  -- who\n        rule, severity\n"
        "    from alerts\n",
    )
    assert planned(cli_json, proj) == {}

    # a logic change: one threshold, read by one rule
    edit(defs / "rules.py", "STRUCTURING_MIN_DEPOSITS = 3", "STRUCTURING_MIN_DEPOSITS = 4")
    expected = {
        "aml/structuring_hits": {"code_changed"},
        "aml/flagged_transactions": {"upstream_will_change"},
        "aml/case_queue": {"upstream_will_change"},
        "aml/quarterly_report": {"upstream_will_change"},
        "aml/quarterly_summary": {"upstream_will_change"},
        "aml/report_export": {"upstream_will_change"},
    }
    assert planned(cli_json, proj) == expected
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == dict.fromkeys(expected, "success"), dump(run)
    assert planned(cli_json, proj) == {}

    # a corrupted input: a booking for a customer the KYC register does not know
    txns_csv = proj / "data" / "transactions.csv"
    good_csv = txns_csv.read_bytes()
    before = published(catalog_rows, proj, "staging/transactions")
    report_before = published(catalog_rows, proj, "aml/quarterly_report")
    exported_before = (proj / REPORT_CSV).read_bytes(), (proj / REPORT_MD).read_bytes()
    txns_csv.write_bytes(
        good_csv + b"T099999,C9999,2024-03-30T12:00,wire_out,4200.00,EUR,Harbor Foods GmbH,DE\n"
    )
    run = cli_json(proj, "materialize", "--json", expect=1)
    got = statuses(run)
    assert got["staging/transactions"] == "quarantined", dump(run)
    assert check_results(run, "staging/transactions") == {
        "not_null(txn_id, customer_id, booked_at, type, amount)": True,
        "unique(txn_id)": True,
        "accepted_values(type)": True,
        "positive_amount": True,
        "relationships(customer_id -> staging/customers.customer_id)": False,
    }
    assert {k: got[k] for k in DOWNSTREAM_OF_TRANSACTIONS} == dict.fromkeys(
        DOWNSTREAM_OF_TRANSACTIONS, "skipped"
    )
    assert quarantined_keys(cli_json, proj) == ["staging/transactions"]
    # the previous version is still the one served, byte for byte, and so is the report
    assert published(catalog_rows, proj, "staging/transactions") == before
    assert published(catalog_rows, proj, "aml/quarterly_report") == report_before
    assert ((proj / REPORT_CSV).read_bytes(), (proj / REPORT_MD).read_bytes()) == exported_before

    # the fix: the export without the stray line publishes the same data again
    txns_csv.write_bytes(good_csv)
    run = cli_json(proj, "materialize", "--json")
    got = statuses(run)
    assert got["staging/transactions"] == "success", dump(run)
    assert {k: got[k] for k in DOWNSTREAM_OF_TRANSACTIONS} == dict.fromkeys(
        DOWNSTREAM_OF_TRANSACTIONS,
        "skipped",  # early cutoff: unchanged_upstream
    )
    assert published(catalog_rows, proj, "staging/transactions")[0] == before[0]
    assert planned(cli_json, proj) == {}
    done = run_cli(proj, "quarantine", "discard", "staging/transactions", "--reason", "bad export")
    assert done.returncode == 0, done.stderr
    assert quarantined_keys(cli_json, proj) == []

    # a wrong report: the quarter filter drops its last day, so totals do not reconcile
    edit(
        defs / "report.py",
        '    return frame[frame[column].dt.to_period("Q").astype(str) == QUARTER]',
        '    return frame[(frame[column] >= "2024-01-01") & (frame[column] < "2024-03-31")]',
    )
    run = cli_json(proj, "materialize", "--json", expect=1)
    assert statuses(run) == {
        "aml/quarterly_report": "quarantined",
        "aml/quarterly_summary": "skipped",
        "aml/report_export": "skipped",
    }, dump(run)
    assert check_results(run, "aml/quarterly_report")["totals_reconcile_with_source"] is False
    assert published(catalog_rows, proj, "aml/quarterly_report") == report_before
    assert ((proj / REPORT_CSV).read_bytes(), (proj / REPORT_MD).read_bytes()) == exported_before

    # the auditor's walk (README): which code and data produced the report in force?
    version = report_before[0]
    shown = cli_json(proj, "show", "aml/quarterly_report", "--version", version[:12], "--json")
    assert (shown["data_version"], shown["status"]) == (version, "success")
    code = {part["name"]: part["source"] for part in shown["code"]}
    assert code["aml_compliance_defs.report.QUARTER"] == "QUARTER = '2024Q1'"
    assert {"aml_compliance_defs.report._in_quarter", "aml_compliance_defs.rules.RULES"} <= set(
        code
    )
    assert "2024-03-31" not in code["aml_compliance_defs.report._in_quarter"]  # not today's edit
    inputs = {i["key"]: i for i in shown["inputs"]}
    assert sorted(inputs) == ["aml/case_queue", "aml/flagged_transactions", "staging/transactions"]
    for key, inp in inputs.items():
        assert inp["data_version"] == _published_version(catalog_rows, proj, key)
        assert inp["show"] == f"assets show {key} --version {inp['data_version'][:12]}"
    assert {c["check_name"]: c["passed"] for c in shown["checks"]} == dict.fromkeys(
        [
            "totals_reconcile_with_source",
            "non_negative_counts",
            "unique(section, item)",
            "not_null(section, item, count, amount_eur)",
        ],
        True,
    )
    # ... down to the export file the transactions were read from
    txns = inputs["staging/transactions"]["data_version"]
    staged = cli_json(proj, "show", "staging/transactions", "--version", txns[:12], "--json")
    assert ("raw/bank_transactions", "source") in {(i["key"], i["kind"]) for i in staged["inputs"]}
    # ... and the files in reports/ were written from this very report version
    export_version = _published_version(catalog_rows, proj, "aml/report_export")
    export = cli_json(proj, "show", "aml/report_export", "--version", export_version[:12], "--json")
    assert {i["key"]: i["data_version"] for i in export["inputs"]}[
        "aml/quarterly_report"
    ] == version


def _published_version(catalog_rows, proj, key: str) -> str:
    rows = catalog_rows(proj, f"SELECT data_version FROM asset_state WHERE key = '{key}'")
    assert rows and rows[0][0], f"{key} has no published version"
    return rows[0][0]


def test_aml_generate_data_writes_the_committed_csvs(tmp_path) -> None:
    subprocess.run(
        [sys.executable, str(EXAMPLES / "aml_compliance" / "generate_data.py"), str(tmp_path)],
        check=True,
        timeout=60,
    )
    committed = EXAMPLES / "aml_compliance" / "data"
    names = sorted(p.name for p in committed.glob("*.csv"))
    assert names == sorted(p.name for p in tmp_path.glob("*.csv"))
    for name in names:
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
    assert sum((committed / n).stat().st_size for n in names) < 2_000_000
