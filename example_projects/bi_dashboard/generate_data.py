"""Generate the small, deterministic CSV sources of the bi_dashboard example.

The CSVs in ``data/`` are committed; run this only to change them:

    python generate_data.py            # rewrites data/*.csv
    python generate_data.py OUT_DIR    # writes elsewhere (the tests compare the two)

Standard library only, seeded: the same script always writes the same bytes.
The exports are a little messy on purpose (duplicate rows, inconsistent campaign
ids, test orders of amount 0, CRM stage names in odd case) so the staging assets have something to clean.
"""

from __future__ import annotations

import csv
import hashlib
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 20240301
START = date(2024, 3, 1)
DAYS = 61  # March and April 2024
N_CUSTOMERS = 420

# campaign_id -> (platform, channel, base daily spend, cost per click)
CAMPAIGNS = {
    "G-SEARCH-BRAND": ("google", "paid_search", 45.0, 0.45),
    "G-SEARCH-GENERIC": ("google", "paid_search", 95.0, 1.20),
    "G-DISPLAY-RETARGET": ("google", "display", 40.0, 0.35),
    "M-PROSPECTING": ("meta", "paid_social", 85.0, 0.70),
    "M-RETARGETING": ("meta", "paid_social", 35.0, 0.40),
}
# how likely a new lead comes from each campaign; None = organic (no campaign)
LEAD_SOURCES = [
    ("G-SEARCH-BRAND", 0.22),
    ("G-SEARCH-GENERIC", 0.22),
    ("G-DISPLAY-RETARGET", 0.10),
    ("M-PROSPECTING", 0.20),
    ("M-RETARGETING", 0.10),
    (None, 0.16),
]
CURRENCIES = [("USD", 0.7), ("EUR", 0.2), ("GBP", 0.1)]
# where a qualified lead's opportunity stands at export time (StageName as the CRM shows it)
STAGES = [
    ("Qualification", 0.15),
    ("Proposal", 0.15),
    ("Negotiation", 0.1),
    ("Closed Won", 0.35),
    ("Closed Lost", 0.25),
]


def _day(i: int) -> date:
    return START + timedelta(days=i)


def ad_spend(rng: random.Random, platform: str) -> list[dict]:
    rows = []
    for i in range(DAYS):
        d = _day(i)
        weekend = 0.75 if d.weekday() >= 5 else 1.0
        for cid, (plat, channel, base, cpc) in CAMPAIGNS.items():
            if plat != platform:
                continue
            spend = round(base * weekend * rng.uniform(0.8, 1.2), 2)
            clicks = max(1, round(spend / (cpc * rng.uniform(0.85, 1.15))))
            # the meta export writes campaign ids in lower case
            shown = cid.lower() if platform == "meta" else cid
            rows.append(
                {
                    "date": d.isoformat(),
                    "campaign_id": shown,
                    "channel": channel,
                    "spend": f"{spend:.2f}",
                    "clicks": clicks,
                }
            )
    # a few rows exported twice
    for r in rng.sample(rows, 3):
        rows.append(dict(r))
    rows.sort(key=lambda r: (r["date"], r["campaign_id"]))
    return rows


def leads(rng: random.Random) -> list[dict]:
    rows = []
    campaigns = [c for c, _ in LEAD_SOURCES]
    weights = [w for _, w in LEAD_SOURCES]
    n = 0
    for c in range(1, N_CUSTOMERS + 1):
        customer = f"C{c:04d}"
        # a third of customers never become a lead (they buy "direct")
        n_leads = rng.choices([0, 1, 2], weights=[0.3, 0.55, 0.15])[0]
        for _ in range(n_leads):
            n += 1
            created = datetime.combine(_day(rng.randrange(DAYS)), datetime.min.time())
            created += timedelta(minutes=rng.randrange(24 * 60))
            campaign = rng.choices(campaigns, weights=weights)[0]
            shown = campaign or ""
            if shown and rng.random() < 0.1:
                shown = f" {shown.lower()}"  # hand-typed in the CRM
            email = f"customer{c}@example.com"
            rows.append(
                {
                    "lead_id": f"L{n:05d}",
                    "customer_id": customer,
                    "email_hash": hashlib.sha256(email.encode()).hexdigest()[:16],
                    "campaign_id": shown,
                    "created_at": created.isoformat(timespec="seconds"),
                }
            )
    for r in rng.sample(rows, 4):
        rows.append(dict(r))
    rows.sort(key=lambda r: (r["created_at"], r["lead_id"]))
    return rows


def orders(rng: random.Random, lead_rows: list[dict]) -> list[dict]:
    first_lead: dict[str, date] = {}
    for r in lead_rows:
        d = datetime.fromisoformat(r["created_at"]).date()
        first_lead[r["customer_id"]] = min(d, first_lead.get(r["customer_id"], d))
    rows = []
    currencies = [c for c, _ in CURRENCIES]
    cweights = [w for _, w in CURRENCIES]
    for c in range(1, N_CUSTOMERS + 1):
        customer = f"C{c:04d}"
        for _ in range(rng.choices([0, 1, 2, 3], weights=[0.15, 0.45, 0.3, 0.1])[0]):
            if customer in first_lead and rng.random() < 0.8:
                # most leads convert within a few days, some much later
                lag = rng.choice([0, 1, 1, 2, 3, 5, 8, 13, 21, 45])
                d = first_lead[customer] + timedelta(days=lag)
                if d >= _day(DAYS):
                    continue
            else:
                d = _day(rng.randrange(DAYS))
            amount = round(rng.lognormvariate(4.3, 0.6), 2)
            rows.append(
                {
                    "customer_id": customer,
                    "order_date": d.isoformat(),
                    "amount": f"{amount:.2f}",
                    "currency": rng.choices(currencies, weights=cweights)[0],
                }
            )
    rows.sort(key=lambda r: (r["order_date"], r["customer_id"]))
    out = []
    for i, r in enumerate(rows, start=1):
        out.append({"order_id": f"O{i:05d}", **r})
    # test orders placed by the shop team, and rows the shop exported twice
    for r in rng.sample(out, 5):
        r["amount"] = "0.00"
    for r in rng.sample(out, 4):
        out.append(dict(r))
    out.sort(key=lambda r: (r["order_date"], r["order_id"]))
    return out


def opportunities(rng: random.Random, lead_rows: list[dict]) -> list[dict]:
    """A Salesforce-like opportunity export: CRM field names, some leads qualified into deals."""
    rows = []
    seen = set()
    for lead in sorted(lead_rows, key=lambda r: r["lead_id"]):
        if lead["lead_id"] in seen or rng.random() > 0.4:
            continue
        seen.add(lead["lead_id"])
        created = datetime.fromisoformat(lead["created_at"]).date()
        created += timedelta(days=rng.choice([0, 1, 2, 3, 5, 8]))
        stage = rng.choices([s for s, _ in STAGES], weights=[w for _, w in STAGES])[0]
        closed = ""
        if stage.startswith("Closed"):
            closed = (created + timedelta(days=rng.randrange(1, 30))).isoformat()
        rows.append(
            {
                "Id": f"006{len(rows) + 1:05d}",
                "ConvertedFromLeadId": lead["lead_id"],
                "AccountId": lead["customer_id"],
                # the CRM's users type stage names with stray case and spaces
                "StageName": stage.upper() if rng.random() < 0.08 else stage,
                "Amount": f"{round(rng.lognormvariate(6.0, 0.5), -1):.2f}",
                "CreatedDate": created.isoformat(),
                "CloseDate": closed,
            }
        )
    for r in rng.sample(rows, 3):
        rows.append(dict(r))
    rows.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
    return rows


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    write(out_dir / "ad_spend_google.csv", ad_spend(rng, "google"))
    write(out_dir / "ad_spend_meta.csv", ad_spend(rng, "meta"))
    lead_rows = leads(rng)
    write(out_dir / "crm_leads.csv", lead_rows)
    write(out_dir / "shop_orders.csv", orders(rng, lead_rows))
    # its own generator, so adding this export left the four above byte for byte the same
    write(out_dir / "crm_opportunities.csv", opportunities(random.Random(SEED + 1), lead_rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data")
