"""Raw exports that land in ``data/``: the framework reads them, never writes them."""

from assets_core import Freshness, source

ad_spend_google = source(
    "raw/ad_spend_google",
    path="data/ad_spend_google.csv",
    description="Google Ads daily export: date, campaign_id, channel, spend (USD), clicks.",
)
ad_spend_meta = source(
    "raw/ad_spend_meta",
    path="data/ad_spend_meta.csv",
    description="Meta Ads daily export, same columns; campaign ids come in lower case.",
)
crm_leads = source(
    "raw/crm_leads",
    path="data/crm_leads.csv",
    tags=["pii"],
    description="CRM leads: lead_id, customer_id, email_hash, campaign_id (empty = organic), created_at.",
)
crm_opportunities = source(
    "raw/crm_opportunities",
    path="data/crm_opportunities.csv",
    description=(
        "CRM opportunities (Salesforce field names): Id, ConvertedFromLeadId, AccountId,"
        " StageName, Amount (USD), CreatedDate, CloseDate (empty while open)."
    ),
)
shop_orders = source(
    "raw/shop_orders",
    path="data/shop_orders.csv",
    description="Shop orders: order_id, customer_id, order_date, amount, currency.",
    # the shop exports every night; a day without a change means the export broke
    freshness=Freshness(max_lag="26h"),
)
