"""Generate the small, deterministic CSV source of the ml_pipeline example.

The CSV in ``data/`` is committed; run this only to change it:

    python generate_data.py            # rewrites data/subscribers.csv
    python generate_data.py OUT_DIR    # writes elsewhere (the tests compare the two)

Standard library only, seeded: the same script always writes the same bytes.
Each row is a subscriber of an invented streaming service; ``churned`` (1 = the
subscriber cancelled within 60 days of the snapshot) follows a noisy logistic
model of the other columns, so a classifier can learn it, but not perfectly.
The export is a little messy: rows exported twice, lower-case plan names,
missing login counts.
"""

from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path

SEED = 20240515
N = 2400
PLANS = [("basic", 0.45, 7.99), ("standard", 0.4, 12.99), ("premium", 0.15, 17.99)]
REGIONS = ["north", "south", "east", "west"]


def subscriber(rng: random.Random, i: int) -> dict:
    plan, _, fee = rng.choices(PLANS, weights=[w for _, w, _ in PLANS])[0]
    annual = rng.random() < (0.2 if plan == "basic" else 0.35)
    tenure = min(96, int(rng.expovariate(1 / 18)) + 1)
    logins = max(0, int(rng.gauss(14 if tenure > 6 else 9, 6)))
    tickets = min(9, int(rng.expovariate(1 / 0.8)))
    late = min(6, int(rng.expovariate(1 / 0.4)))
    discount = rng.random() < 0.15
    score = (
        0.4
        - 0.045 * tenure
        - 0.11 * logins
        + 0.55 * tickets
        + 0.6 * late
        - 1.3 * annual
        + (0.5 if plan == "basic" else 0.0)
        - 0.4 * discount
        + rng.gauss(0, 0.9)
    )
    churned = rng.random() < 1 / (1 + math.exp(-score))
    return {
        "subscriber_id": f"S{i:05d}",
        "region": rng.choice(REGIONS),
        "plan": plan.upper() if rng.random() < 0.05 else plan,
        "contract": "annual" if annual else "monthly",
        "monthly_fee": f"{fee * (0.8 if discount else 1.0):.2f}",
        "tenure_months": tenure,
        "logins_30d": "" if rng.random() < 0.03 else logins,
        "support_tickets_90d": tickets,
        "late_payments_12m": late,
        "churned": int(churned),
    }


def main(out: Path) -> None:
    rng = random.Random(SEED)
    rows = []
    for i in range(1, N + 1):
        row = subscriber(rng, i)
        rows.append(row)
        if rng.random() < 0.01:  # the export sometimes repeats a row
            rows.append(dict(row))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "subscribers.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data")
