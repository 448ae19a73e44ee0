-- asset: tags=[finance], checks=[not_null(channel), unique(channel), row_count(min=1)]
-- The dashboard's table: per channel, the funnel from ad spend to leads, CRM
-- opportunities and won deals, and the orders and revenue attributed to it
-- (last touch). Leads without a campaign are `organic`, orders without a lead `direct`.
WITH lead_channels AS (
    SELECT l.lead_id, COALESCE(c.channel, 'organic') AS channel
    FROM staging.leads AS l
    LEFT JOIN staging.campaigns AS c ON c.campaign_id = l.campaign_id
),
pipeline AS (
    SELECT
        lc.channel,
        COUNT(DISTINCT lc.lead_id) AS leads,
        COUNT(o.opportunity_id) AS opportunities,
        COUNT(o.opportunity_id) FILTER (WHERE o.stage = 'closed_won') AS won_deals,
        COALESCE(SUM(o.amount) FILTER (WHERE o.stage = 'closed_won'), 0) AS won_amount
    FROM lead_channels AS lc
    LEFT JOIN staging.opportunities AS o ON o.lead_id = lc.lead_id
    GROUP BY lc.channel
),
sales AS (
    SELECT channel, COUNT(*) AS orders, SUM(amount_usd) AS revenue
    FROM bi.customer_journey
    GROUP BY channel
),
spend AS (
    SELECT channel, SUM(spend) AS spend, CAST(SUM(clicks) AS BIGINT) AS clicks
    FROM bi.roas_daily
    GROUP BY channel
),
channels AS (
    SELECT channel FROM pipeline
    UNION
    SELECT channel FROM sales
)
SELECT
    ch.channel,
    ROUND(COALESCE(sp.spend, 0), 2) AS spend,
    COALESCE(sp.clicks, 0) AS clicks,
    COALESCE(p.leads, 0) AS leads,
    COALESCE(p.opportunities, 0) AS opportunities,
    COALESCE(p.won_deals, 0) AS won_deals,
    ROUND(COALESCE(p.won_amount, 0), 2) AS won_amount,
    COALESCE(s.orders, 0) AS orders,
    ROUND(COALESCE(s.revenue, 0), 2) AS revenue,
    ROUND(s.revenue / NULLIF(sp.spend, 0), 3) AS roas,
    ROUND(sp.spend / NULLIF(p.leads, 0), 2) AS cost_per_lead
FROM channels AS ch
LEFT JOIN pipeline AS p ON p.channel = ch.channel
LEFT JOIN sales AS s ON s.channel = ch.channel
LEFT JOIN spend AS sp ON sp.channel = ch.channel
ORDER BY ch.channel
