"""End to end: the bi_dashboard example through the CLI, in a fresh copy.

Builds the dashboard tables from nothing, shows that reformatting changes
nothing, that a changed currency rate rebuilds the orders and what reads them
(not ad spend, leads or opportunities, in Python and in SQL), that an ad export
with a negative spend is quarantined while the previous ad spend stays published
byte for byte, and that fixing the export publishes again; likewise a CRM export
with a deal for an unknown lead, while the dashboard's funnel table stays as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from example_story import (
    check_results,
    copy_example,
    dump,
    edit,
    planned,
    published,
    quarantined_keys,
    statuses,
)

ASSETS = {
    "staging/ad_spend",
    "staging/campaigns",
    "staging/leads",
    "staging/orders",
    "staging/opportunities",
    "bi/customer_journey",
    "bi/roas_daily",
    "bi/dashboard_kpis",
    "bi/roas_weekly",  # SQL
    "bi/campaign_performance",  # SQL
    "bi/channel_funnel",  # SQL
}
# what reads staging/ad_spend, directly or not
DOWNSTREAM_OF_AD_SPEND = {
    "staging/campaigns",
    "bi/customer_journey",
    "bi/roas_daily",
    "bi/dashboard_kpis",
    "bi/roas_weekly",
    "bi/campaign_performance",
    "bi/channel_funnel",
}


def _funnel(proj: Path) -> dict[str, dict[str, Any]]:
    """bi/channel_funnel (a SQL asset) as {channel: row}, read from the project's DuckDB."""
    with duckdb.connect(str(proj / ".assets" / "warehouse.duckdb"), read_only=True) as con:
        cur = con.execute("SELECT * FROM bi.channel_funnel")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def test_bi_example_rebuilds_what_changed_and_quarantines_a_bad_ad_export(
    tmp_path, cli_json, catalog_rows
) -> None:
    proj = copy_example("bi_dashboard", tmp_path)
    defs = proj / "bi_dashboard_defs"

    # from nothing
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == dict.fromkeys(ASSETS, "success"), dump(run)
    assert planned(cli_json, proj) == {}
    # the dashboard's table counts every lead, opportunity and order once, by channel
    funnel = _funnel(proj)
    crm = pd.read_csv(proj / "data" / "crm_opportunities.csv").drop_duplicates()
    assert sorted(funnel) == ["direct", "display", "organic", "paid_search", "paid_social"]
    assert sum(r["leads"] for r in funnel.values()) == 339
    assert sum(r["opportunities"] for r in funnel.values()) == len(crm)
    won = crm["StageName"].str.lower() == "closed won"
    assert sum(r["won_deals"] for r in funnel.values()) == won.sum()
    assert sum(r["orders"] for r in funnel.values()) == 544
    assert funnel["direct"]["leads"] == 0 and funnel["direct"]["spend"] == 0

    # formatting only: comments and line breaks in an asset function
    edit(
        defs / "staging.py",
        '            spend=pl.col("spend").sum().round(2),\n',
        "            # total spend, rounded to cents\n"
        '            spend=pl.col("spend")\n'
        "            .sum()\n"
        "            .round(2),\n",
    )
    assert planned(cli_json, proj) == {}

    # a logic change in a helper: the EUR rate, used by staging/orders only
    edit(defs / "fx.py", '"EUR": 1.08', '"EUR": 1.10')
    assert planned(cli_json, proj) == {
        "staging/orders": {"code_changed"},
        "bi/customer_journey": {"upstream_will_change"},
        "bi/roas_daily": {"upstream_will_change"},
        "bi/dashboard_kpis": {"upstream_will_change"},
        "bi/roas_weekly": {"upstream_will_change"},
        "bi/campaign_performance": {"upstream_will_change"},
        "bi/channel_funnel": {"upstream_will_change"},
    }
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == {
        "staging/orders": "success",
        "bi/customer_journey": "success",
        "bi/roas_daily": "success",
        "bi/dashboard_kpis": "success",
        "bi/roas_weekly": "success",
        "bi/campaign_performance": "success",
        "bi/channel_funnel": "success",
    }, dump(run)
    assert planned(cli_json, proj) == {}

    # a corrupted input: the Meta export reports a negative spend
    meta = proj / "data" / "ad_spend_meta.csv"
    good = meta.read_bytes()
    before = published(catalog_rows, proj, "staging/ad_spend")
    meta.write_bytes(good + b"2024-04-30,m-brand-test,paid_social,-25.00,3\n")
    run = cli_json(proj, "materialize", "--json", expect=1)
    got = statuses(run)
    assert got["staging/ad_spend"] == "quarantined", dump(run)
    assert check_results(run, "staging/ad_spend")["spend_not_negative"] is False
    assert {k: got[k] for k in DOWNSTREAM_OF_AD_SPEND} == dict.fromkeys(
        DOWNSTREAM_OF_AD_SPEND, "skipped"
    )
    assert not {"staging/orders", "staging/leads", "staging/opportunities"} & set(got)
    assert quarantined_keys(cli_json, proj) == ["staging/ad_spend"]
    assert published(catalog_rows, proj, "staging/ad_spend") == before

    # the fix: the export as it was publishes the same ad spend again
    meta.write_bytes(good)
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run)["staging/ad_spend"] == "success", dump(run)
    assert published(catalog_rows, proj, "staging/ad_spend") == before
    assert planned(cli_json, proj) == {}

    # a CRM export with a deal for a lead it does not have: the dashboard keeps its funnel
    opps = proj / "data" / "crm_opportunities.csv"
    good_opps = opps.read_bytes()
    opps_before = published(catalog_rows, proj, "staging/opportunities")
    funnel_before = _funnel(proj)
    opps.write_bytes(
        good_opps + b"00699999,L09999,C0001,Closed Won,1200.00,2024-04-30,2024-04-30\n"
    )
    run = cli_json(proj, "materialize", "--json", expect=1)
    assert statuses(run) == {
        "staging/opportunities": "quarantined",
        "bi/channel_funnel": "skipped",
    }, dump(run)
    assert check_results(run, "staging/opportunities") == {
        "not_null(opportunity_id, lead_id, stage, amount, created_on)": True,
        "unique(opportunity_id)": True,
        "accepted_values(stage)": True,
        "amount_not_negative": True,
        "relationships(lead_id -> staging/leads.lead_id)": False,
    }
    assert published(catalog_rows, proj, "staging/opportunities") == opps_before
    assert _funnel(proj) == funnel_before

    opps.write_bytes(good_opps)
    run = cli_json(proj, "materialize", "--json")
    assert statuses(run) == {
        "staging/opportunities": "success",
        "bi/channel_funnel": "skipped",  # early cutoff: the same opportunities as before
    }, dump(run)
    assert published(catalog_rows, proj, "staging/opportunities") == opps_before
    assert planned(cli_json, proj) == {}
