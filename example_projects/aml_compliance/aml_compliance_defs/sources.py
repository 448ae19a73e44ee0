"""What the bank's systems export into ``data/``: the framework reads these, never writes them."""

from assets_core import Freshness, source

bank_transactions = source(
    "raw/bank_transactions",
    path="data/transactions.csv",
    description="Core banking export: txn_id, customer_id, booked_at, type, amount, currency, "
    "counterparty, counterparty_country.",
    # the export runs every night; a day without a change means it broke
    freshness=Freshness(max_lag="26h"),
)
kyc_customers = source(
    "raw/kyc_customers",
    path="data/customers.csv",
    tags=["pii"],
    description="KYC register: customer_id, name, segment, country, risk_rating, pep, "
    "kyc_status, kyc_reviewed_on, onboarded_on.",
)
sanctions_list = source(
    "raw/sanctions_list",
    path="data/sanctions_list.csv",
    description="Consolidated sanctions list: entry_id, name, aliases (';'-separated), "
    "country, programme, listed_on.",
)
high_risk_jurisdictions = source(
    "raw/high_risk_jurisdictions",
    path="data/high_risk_countries.csv",
    description="High-risk jurisdictions: country (ISO 3166 alpha-2), name, list.",
)
