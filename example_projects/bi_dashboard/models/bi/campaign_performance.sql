-- asset: tags=[finance], checks=[not_null(campaign_id), unique(campaign_id)]
-- asset: checks=[accepted_values(platform, [google, meta])]
-- Per campaign: what it cost and the orders and revenue attributed to it (last touch).
WITH attributed AS (
    SELECT campaign_id, COUNT(*) AS orders, SUM(amount_usd) AS revenue
    FROM bi.customer_journey
    WHERE campaign_id IS NOT NULL
    GROUP BY campaign_id
)
SELECT
    c.campaign_id,
    c.platform,
    c.channel,
    c.spend,
    COALESCE(a.orders, 0) AS orders,
    ROUND(COALESCE(a.revenue, 0), 2) AS revenue,
    ROUND(COALESCE(a.revenue, 0) / NULLIF(c.spend, 0), 3) AS roas
FROM staging.campaigns AS c
LEFT JOIN attributed AS a ON a.campaign_id = c.campaign_id
ORDER BY c.campaign_id
