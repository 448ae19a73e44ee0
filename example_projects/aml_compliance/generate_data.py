"""Generate the small, deterministic CSV sources of the aml_compliance example.

The CSVs in ``data/`` are committed; run this only to change them:

    python generate_data.py            # rewrites data/*.csv
    python generate_data.py OUT_DIR    # writes elsewhere (the tests compare the two)

Standard library only, seeded: the same script always writes the same bytes.
Every person, company and sanctions entry is invented. The bank's export is a
little messy on purpose (rows exported twice, lower-case country codes, stray
spaces in counterparty names) so the staging assets have something to clean,
and a handful of customers behave in ways the monitoring rules must catch:

* structuring: several cash deposits just under the 10,000 EUR reporting
  threshold within a few days (and one customer who stops at two);
* payments to sanctioned counterparties, spelled the way people type them
  (and one spelled without its legal-form suffix, which the exact-name
  matching misses);
* wires to and from high-risk jurisdictions (some below the amount that counts);
* bursts of outgoing payments within a day (unusual velocity).
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 20240401
START = date(2023, 12, 1)  # one month before the reported quarter, for the rules' windows
END = date(2024, 3, 31)
N_CUSTOMERS = 360

FIRST = (
    "Anna Ben Clara David Elena Felix Greta Hugo Ines Jonas Katrin Luca Mara Nils Olga "
    "Paul Rosa Simon Tara Uwe Vera Wim Xenia Yusuf Zoe"
).split()
LAST = (
    "Albers Brandt Castell Dorn Engel Falk Gruber Hahn Iske Jansen Kroll Lenz Moser Nagel "
    "Ortmann Pohl Quast Roth Sauer Thiel Ulrich Voss Weber Zeller"
).split()
COMPANY_WORDS = (
    "Alder Birch Cedar Delta Ember Fjord Granite Harbor Iris Juniper Kestrel Linden "
    "Meridian Nordic Orchid Pioneer Quarry Riverside Summit Tidewater"
).split()
COMPANY_KINDS = ("Logistics", "Foods", "Textiles", "Systems", "Partners", "Trading", "Studio")
LEGAL_FORMS = ("GmbH", "Ltd", "SA", "BV", "LLC")
HOME = [("DE", 0.45), ("NL", 0.15), ("FR", 0.12), ("AT", 0.1), ("BE", 0.08), ("PL", 0.1)]
ELSEWHERE = ["DE", "NL", "FR", "AT", "BE", "PL", "IT", "ES", "GB", "US", "CH", "SE", "DK"]
MERCHANTS = [
    "Supermarkt Nord",
    "City Fuel",
    "Bahn Tickets",
    "Online Books",
    "Pharmacy Central",
    "Cafe Linden",
    "Electro World",
    "Streaming Plus",
]
# An example list in the shape of the FATF's public lists (not a current one).
HIGH_RISK = [
    ("KP", "North Korea", "call_for_action"),
    ("IR", "Iran", "call_for_action"),
    ("MM", "Myanmar", "call_for_action"),
    ("SY", "Syria", "increased_monitoring"),
    ("YE", "Yemen", "increased_monitoring"),
    ("HT", "Haiti", "increased_monitoring"),
    ("SS", "South Sudan", "increased_monitoring"),
    ("VE", "Venezuela", "increased_monitoring"),
]
# Invented sanctions entries: (name, aliases, country, programme)
SANCTIONED = [
    ("Volkov Trading LLC", ["Volkov Trade House"], "RU", "EU-RU"),
    ("Blue Crescent Shipping Co", ["Blue Crescent Marine"], "IR", "EU-IR"),
    ("Golden Lotus Holdings Ltd", [], "KP", "UN-KP"),
    ("Arkady Mirov", ["Arkadi Mirow"], "RU", "EU-RU"),
    ("Northern Star Metals SA", [], "BY", "EU-BY"),
    ("Sahel Arms Supply", ["SAS Logistics"], "ML", "UN-ML"),
    ("Kestrel Petrochemicals", [], "SY", "EU-SY"),
    ("Baltic Ember Finance Ltd", ["Ember Finance"], "RU", "EU-RU"),
]


def _when(rng: random.Random, d: date, start_hour: int = 7, end_hour: int = 21) -> datetime:
    return datetime(d.year, d.month, d.day, rng.randrange(start_hour, end_hour), rng.randrange(60))


def _day(rng: random.Random, first: date = START, last: date = END) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} {rng.choice(LEGAL_FORMS)}"


def customers(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(1, N_CUSTOMERS + 1):
        business = rng.random() < 0.2
        name = _company(rng) if business else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        onboarded = date(2015, 1, 1) + timedelta(days=rng.randrange(3200))
        reviewed = max(onboarded, date(2021, 1, 1) + timedelta(days=rng.randrange(1150)))
        rows.append(
            {
                "customer_id": f"C{i:04d}",
                "name": name,
                "segment": "business" if business else "retail",
                "country": _pick(rng, HOME),
                "risk_rating": _pick(rng, [("low", 0.7), ("medium", 0.24), ("high", 0.06)]),
                "pep": "Y" if rng.random() < 0.02 else "N",
                "kyc_status": "verified" if rng.random() < 0.96 else "review_due",
                "kyc_reviewed_on": reviewed.isoformat(),
                "onboarded_on": onboarded.isoformat(),
            }
        )
    return rows


def _txn(
    customer: dict,
    at: datetime,
    kind: str,
    amount: float,
    counterparty: str = "",
    country: str = "",
) -> dict:
    return {
        "customer_id": customer["customer_id"],
        "booked_at": at.isoformat(timespec="minutes"),
        "type": kind,
        "amount": f"{amount:.2f}",
        "currency": "EUR",
        "counterparty": counterparty,
        "counterparty_country": country,
    }


def ordinary(rng: random.Random, custs: list[dict]) -> list[dict]:
    """Everyday activity: salaries and invoices in, card payments, rent and cash out."""
    out = []
    for c in custs:
        business = c["segment"] == "business"
        for _ in range(rng.randrange(6, 22) if not business else rng.randrange(12, 30)):
            kind = _pick(
                rng,
                [
                    ("card_payment", 0.42),
                    ("wire_in", 0.2),
                    ("wire_out", 0.2),
                    ("cash_withdrawal", 0.1),
                    ("cash_deposit", 0.08),
                ],
            )
            at = _when(rng, _day(rng))
            scale = 8.0 if business else 1.0
            if kind == "card_payment":
                out.append(_txn(c, at, kind, rng.uniform(4, 180), rng.choice(MERCHANTS), "DE"))
            elif kind in ("wire_in", "wire_out"):
                who = (
                    _company(rng)
                    if rng.random() < 0.6
                    else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                )
                amount = rng.uniform(80, 3800) * scale
                out.append(_txn(c, at, kind, amount, who, rng.choice(ELSEWHERE)))
            else:
                out.append(_txn(c, at, kind, rng.choice([50, 100, 200, 300, 500, 1000]) * 1.0))
    # a few big but isolated cash deposits: under the threshold, yet not structuring
    for c in rng.sample(custs, 6):
        out.append(_txn(c, _when(rng, _day(rng)), "cash_deposit", rng.uniform(9000, 9950)))
    return out


def planted(rng: random.Random, custs: list[dict]) -> list[dict]:
    """The behaviour the monitoring rules exist for."""
    out = []
    chosen = rng.sample(custs, 20)
    structurers, near_miss = chosen[:5], chosen[5]
    senders, high_risk, bursty = chosen[6:12], chosen[12:17], chosen[17:20]
    q1 = date(2024, 1, 1)
    for c in structurers:
        first = _day(rng, q1, date(2024, 3, 25))
        for _ in range(rng.randrange(3, 6)):
            at = _when(rng, first + timedelta(days=rng.randrange(4)), 9, 17)
            out.append(_txn(c, at, "cash_deposit", round(rng.uniform(9000, 9950), -1)))
    for k in range(2):  # only two deposits: below the rule's count
        day = _day(rng, q1) + timedelta(days=k)
        out.append(_txn(near_miss, _when(rng, day, 9, 17), "cash_deposit", 9400.0))
    spellings = [
        ("VOLKOV TRADING LLC", "RU"),
        ("Volkov Trading, LLC", "RU"),
        ("blue crescent marine", "IR"),
        ("Arkadi  Mirow", "RU"),
        ("Golden Lotus Holdings Ltd.", "CN"),
        ("Baltic Ember Finance", "RU"),  # no legal form: exact-name matching misses it
    ]
    for c, (name, country) in zip(senders, spellings, strict=True):
        kind = rng.choice(["wire_out", "wire_in"])
        out.append(
            _txn(c, _when(rng, _day(rng, q1)), kind, rng.uniform(2500, 48000), name, country)
        )
    for c in high_risk:
        for _ in range(rng.randrange(2, 4)):
            code = rng.choice(HIGH_RISK)[0]
            amount = rng.uniform(1500, 25000) if rng.random() < 0.8 else rng.uniform(90, 600)
            kind = rng.choice(["wire_out", "wire_in"])
            out.append(_txn(c, _when(rng, _day(rng, q1)), kind, amount, _company(rng), code))
    for c in bursty:
        day = _day(rng, q1)
        start = datetime(day.year, day.month, day.day, rng.randrange(8, 12))
        for k in range(rng.randrange(8, 13)):
            at = start + timedelta(minutes=17 * k + rng.randrange(10))
            who = _company(rng)
            out.append(_txn(c, at, "wire_out", rng.uniform(400, 2400), who, rng.choice(ELSEWHERE)))
    return out


def transactions(rng: random.Random, custs: list[dict]) -> list[dict]:
    rows = ordinary(rng, custs) + planted(rng, custs)
    rows.sort(key=lambda r: (r["booked_at"], r["customer_id"], r["type"], r["amount"]))
    out = []
    for i, r in enumerate(rows, start=1):
        r = {"txn_id": f"T{i:06d}", **r}
        if r["counterparty_country"] and rng.random() < 0.05:
            r["counterparty_country"] = r["counterparty_country"].lower()
        if r["counterparty"] and rng.random() < 0.04:
            r["counterparty"] = f" {r['counterparty']} "
        out.append(r)
        if rng.random() < 0.01:  # the export sometimes repeats a row
            out.append(dict(r))
    return out


def sanctions() -> list[dict]:
    return [
        {
            "entry_id": f"SAN-{i:04d}",
            "name": name,
            "aliases": ";".join(aliases),
            "country": country,
            "programme": programme,
            "listed_on": (date(2019, 3, 1) + timedelta(days=173 * i)).isoformat(),
        }
        for i, (name, aliases, country, programme) in enumerate(SANCTIONED, start=1)
    ]


def high_risk_countries() -> list[dict]:
    return [{"country": c, "name": n, "list": lst} for c, n, lst in HIGH_RISK]


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main(out: Path) -> None:
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)
    custs = customers(rng)
    _write(out / "customers.csv", custs)
    _write(out / "transactions.csv", transactions(rng, custs))
    _write(out / "sanctions_list.csv", sanctions())
    _write(out / "high_risk_countries.csv", high_risk_countries())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data")
