-- asset: tags=[finance], checks=[not_null(week, channel), unique(week, channel), row_count(min=1)]
-- Weekly spend, attributed revenue and ROAS per paid channel: the dashboard's trend chart.
-- Reads bi/roas_daily, a polars frame written by marts.py, by its table name.
SELECT
    CAST(date_trunc('week', date) AS DATE) AS week,
    channel,
    ROUND(SUM(spend), 2) AS spend,
    SUM(orders) AS orders,
    ROUND(SUM(revenue), 2) AS revenue,
    ROUND(SUM(revenue) / NULLIF(SUM(spend), 0), 3) AS roas
FROM bi.roas_daily
GROUP BY week, channel
ORDER BY week, channel
