"""The subscriber snapshot the product database exports into ``data/``."""

from assets_core import source

subscribers_export = source(
    "raw/subscribers_export",
    path="data/subscribers.csv",
    description="One row per subscriber: plan, contract, fee, tenure, activity, support "
    "tickets, late payments, and churned (1 = cancelled within 60 days).",
)
