"""The bi_dashboard example's asset functions, called directly as plain functions.

The expected values are computed here again, independently, with plain pandas
and a row-by-row attribution loop, straight from the committed CSVs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from datetime import date, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pandas as pd
import pytest

from assets_core.definitions import AssetDef, SourceDef, definition_of

EXAMPLE = Path(__file__).resolve().parents[1] / "example_projects" / "bi_dashboard"
DATA = EXAMPLE / "data"
PACKAGE = "bi_dashboard_defs"
DEF_MODULES = ("sources", "staging", "marts")
USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
CAMPAIGN_IDS = {
    "G-SEARCH-BRAND",
    "G-SEARCH-GENERIC",
    "G-DISPLAY-RETARGET",
    "M-PROSPECTING",
    "M-RETARGETING",
}


@pytest.fixture(scope="module")
def mods():
    sys.path.insert(0, str(EXAMPLE))
    try:
        names = (*DEF_MODULES, "fx", "attribution")
        yield SimpleNamespace(**{n: importlib.import_module(f"{PACKAGE}.{n}") for n in names})
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in list(sys.modules):
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                del sys.modules[name]


@pytest.fixture(scope="module")
def built(mods):
    s, m = mods.staging, mods.marts
    ad_spend = s.ad_spend([DATA / "ad_spend_google.csv"], [DATA / "ad_spend_meta.csv"])
    campaigns = s.campaigns(ad_spend)
    leads = s.leads([DATA / "crm_leads.csv"])
    orders = s.orders([DATA / "shop_orders.csv"])
    opportunities = s.opportunities([DATA / "crm_opportunities.csv"])
    journey = m.customer_journey(orders, leads, campaigns)
    roas = m.roas_daily(ad_spend, journey)
    kpis = m.dashboard_kpis(roas, journey, leads)
    return SimpleNamespace(
        ad_spend=ad_spend,
        campaigns=campaigns,
        leads=leads,
        orders=orders,
        opportunities=opportunities,
        journey=journey,
        roas=roas,
        kpis=kpis,
    )


def _definitions(mods) -> dict[str, AssetDef | SourceDef]:
    found = {}
    for name in DEF_MODULES:
        for obj in vars(getattr(mods, name)).values():
            d = definition_of(obj)
            if d is not None:
                found[d.key] = d
    return found


def independent_revenue() -> pd.DataFrame:
    """Attributed revenue per (date, channel): last lead within 30 days, row by row."""
    spend = pd.concat(pd.read_csv(DATA / f"ad_spend_{p}.csv") for p in ("google", "meta"))
    channel_of = dict(zip(spend["campaign_id"].str.upper(), spend["channel"], strict=True))
    leads = pd.read_csv(DATA / "crm_leads.csv", keep_default_na=False).drop_duplicates()
    leads_of: dict[str, list] = {}
    for lead in leads.itertuples():
        leads_of.setdefault(lead.customer_id, []).append(lead)
    orders = pd.read_csv(DATA / "shop_orders.csv").drop_duplicates("order_id")
    rows = []
    for order in orders[orders["amount"] > 0].itertuples():
        day = date.fromisoformat(order.order_date)
        touches = [
            lead
            for lead in leads_of.get(order.customer_id, [])
            if 0 <= (day - datetime.fromisoformat(lead.created_at).date()).days <= 30
        ]
        if not touches:
            continue
        last = max(touches, key=lambda lead: lead.created_at)
        channel = channel_of.get(last.campaign_id.strip().upper())
        if channel is not None:
            usd = round(order.amount * USD_PER_UNIT[order.currency], 2)
            rows.append((order.order_date, channel, usd, order.currency))
    return pd.DataFrame(rows, columns=["date", "channel", "usd", "currency"])


def test_sources_match_the_committed_csv_files(mods):
    defs = _definitions(mods)
    sources = {k: d for k, d in defs.items() if isinstance(d, SourceDef)}
    assert sorted(sources) == [
        "raw/ad_spend_google",
        "raw/ad_spend_meta",
        "raw/crm_leads",
        "raw/crm_opportunities",
        "raw/shop_orders",
    ]
    for d in sources.values():
        assert len(sorted(EXAMPLE.glob(d.path))) == 1, d.key
    assert sum(p.stat().st_size for p in DATA.glob("*.csv")) < 200_000


def test_every_upstream_parameter_names_exactly_one_definition(mods):
    defs = _definitions(mods)
    assets = {k: d for k, d in defs.items() if isinstance(d, AssetDef)}
    assert 6 <= len(assets) <= 10
    upstreams = {}
    for key, d in assets.items():
        resolved = []
        for p in d.params:
            matches = [d.ins[p]] if p in d.ins else [k for k in defs if k.rsplit("/")[-1] == p]
            assert len(matches) == 1 and matches[0] in defs, (key, p, matches)
            resolved.append(matches[0])
        upstreams[key] = sorted(resolved)
        assert d.fn.__doc__, f"{key} has no docstring"
    assert upstreams["bi/customer_journey"] == [
        "staging/campaigns",
        "staging/leads",
        "staging/orders",
    ]
    assert upstreams["bi/dashboard_kpis"] == [
        "bi/customer_journey",
        "bi/roas_daily",
        "staging/leads",
    ]


def test_staging_drops_duplicates_and_test_orders(built):
    assert built.ad_spend.height == 61 * 5  # one row per day and campaign
    assert set(built.ad_spend["campaign_id"]) == CAMPAIGN_IDS
    assert built.campaigns.height == 5
    assert len(built.leads) == 339
    assert built.leads["lead_id"].is_unique
    assert len(built.orders) == 544
    assert built.orders["order_id"].is_unique
    assert (built.orders["amount"] > 0).all()


def test_opportunities_get_our_names_snake_case_stages_and_no_duplicates(built, mods):
    raw = pd.read_csv(DATA / "crm_opportunities.csv", dtype={"Id": "str"})
    opps = built.opportunities
    assert len(opps) == len(raw.drop_duplicates()) < len(raw)
    assert list(opps.columns) == list(mods.staging.OPPORTUNITY_COLUMNS.values())
    assert set(opps["stage"]) == set(mods.staging.STAGES)
    assert opps["opportunity_id"].is_unique
    assert set(opps["lead_id"]) <= set(built.leads["lead_id"])
    # a deal is closed exactly when the CRM gave it a close date
    closed = opps["stage"].str.startswith("closed")
    assert (opps["closed_on"].notna() == closed).all()


def test_orders_are_converted_to_usd(built):
    gbp = built.orders[built.orders["currency"] == "GBP"].iloc[0]
    assert gbp["amount_usd"] == round(gbp["amount"] * 1.27, 2)


def test_unknown_currency_is_an_error_naming_the_fix(mods):
    with pytest.raises(ValueError, match="usd_per_unit"):
        mods.fx.to_usd(pd.Series([1.0]), pd.Series(["CHF"]))


def test_customer_journey_attributes_each_order_once(built):
    j = built.journey
    assert len(j) == len(built.orders)
    assert j["order_id"].is_unique
    assert set(j["channel"]) == {"paid_search", "display", "paid_social", "organic", "direct"}
    attributed = j[j["lead_id"].notna()]
    assert attributed["days_to_convert"].between(0, 30).all()
    assert j.loc[j["lead_id"].isna(), "channel"].eq("direct").all()


def test_roas_daily_matches_an_independent_computation(built):
    revenue = independent_revenue()
    spend = pd.concat(
        pd.read_csv(DATA / f"ad_spend_{p}.csv") for p in ("google", "meta")
    ).drop_duplicates()
    roas = built.roas.to_pandas()
    assert len(roas) == 61 * 3  # one row per day and paid channel
    # a day whose paid_search revenue mixes all three currencies
    day, channel = "2024-03-07", "paid_search"
    mine = revenue[(revenue["date"] == day) & (revenue["channel"] == channel)]
    assert set(mine["currency"]) == {"USD", "EUR", "GBP"}
    expected_spend = spend.loc[
        (spend["date"] == day) & (spend["channel"] == channel), "spend"
    ].sum()
    row = roas[(roas["date"] == pd.Timestamp(day)) & (roas["channel"] == channel)].iloc[0]
    assert row["spend"] == pytest.approx(expected_spend)
    assert row["revenue"] == pytest.approx(mine["usd"].sum())
    assert row["roas"] == pytest.approx(mine["usd"].sum() / expected_spend, abs=5e-4)
    assert row["roas"] == pytest.approx(4.598)
    # and every other day and channel
    totals = revenue.groupby(["date", "channel"])["usd"].sum()
    for r in roas.itertuples():
        assert r.revenue == pytest.approx(totals.get((r.date.strftime("%Y-%m-%d"), r.channel), 0.0))


def test_dashboard_kpis_summarize_roas_daily(built):
    k = built.kpis
    assert k["first_day"] == "2024-03-01" and k["last_day"] == "2024-04-30"
    assert k["orders"] == 544
    assert k["blended_roas"] == pytest.approx(k["paid_revenue_usd"] / k["spend_usd"], abs=5e-4)
    assert k["best_channel"] == max(k["roas_by_channel"], key=k["roas_by_channel"].get)
    assert set(k["roas_by_channel"]) == {"paid_search", "display", "paid_social"}


def test_generator_rewrites_the_committed_csvs_byte_for_byte(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "bi_dashboard_generate_data", EXAMPLE / "generate_data.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    assert isinstance(gen, ModuleType)
    spec.loader.exec_module(gen)
    gen.main(tmp_path)
    for path in sorted(DATA.glob("*.csv")):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
