-- asset: tags=[pii]
-- One open case per customer and quarter with alerts, scored and prioritised for review.
-- asset: checks=[not_null(case_id, customer_id, priority), unique(case_id), accepted_values(priority, [P1, P2, P3])]
-- Score: each distinct rule adds its severity's points (critical 100, high 40,
-- medium 15), the customer's KYC risk adds 20 (high) or 5 (medium), a politically
-- exposed person 20. P1: any critical alert or a score of 60 or more; P2: 30 or more.
WITH alerts AS (
    SELECT
        *,
        CAST(YEAR(booked_at) AS VARCHAR) || 'Q' || CAST(QUARTER(booked_at) AS VARCHAR) AS quarter
    FROM aml.flagged_transactions
),
by_rule AS (
    SELECT DISTINCT quarter, customer_id, rule, severity FROM alerts
),
rule_points AS (
    SELECT
        quarter,
        customer_id,
        STRING_AGG(rule, '; ' ORDER BY rule) AS rules,
        SUM(CASE severity WHEN 'critical' THEN 100 WHEN 'high' THEN 40 ELSE 15 END) AS points,
        BOOL_OR(severity = 'critical') AS critical
    FROM by_rule
    GROUP BY quarter, customer_id
),
amounts AS (
    SELECT quarter, customer_id, ROUND(SUM(amount), 2) AS flagged_amount_eur
    FROM (SELECT DISTINCT quarter, customer_id, txn_id, amount FROM alerts)
    GROUP BY quarter, customer_id
),
cases AS (
    SELECT
        a.quarter,
        a.customer_id,
        COUNT(*) AS alerts,
        COUNT(DISTINCT a.txn_id) AS transactions,
        MIN(a.booked_at) AS first_alert_at,
        MAX(a.booked_at) AS last_alert_at
    FROM alerts AS a
    GROUP BY a.quarter, a.customer_id
),
scored AS (
    SELECT
        c.*,
        r.rules,
        r.critical,
        m.flagged_amount_eur,
        r.points
        + CASE k.risk_rating WHEN 'high' THEN 20 WHEN 'medium' THEN 5 ELSE 0 END
        + CASE WHEN k.pep THEN 20 ELSE 0 END AS score,
        k.name AS customer_name,
        k.segment,
        k.risk_rating,
        k.pep
    FROM cases AS c
    JOIN rule_points AS r ON r.quarter = c.quarter AND r.customer_id = c.customer_id
    JOIN amounts AS m ON m.quarter = c.quarter AND m.customer_id = c.customer_id
    JOIN staging.customers AS k ON k.customer_id = c.customer_id
)
SELECT
    quarter || '-' || customer_id AS case_id,
    quarter,
    customer_id,
    customer_name,
    segment,
    risk_rating,
    pep,
    alerts,
    transactions,
    rules,
    flagged_amount_eur,
    first_alert_at,
    last_alert_at,
    score,
    CASE WHEN critical OR score >= 60 THEN 'P1' WHEN score >= 30 THEN 'P2' ELSE 'P3' END AS priority,
    'open' AS status
FROM scored
ORDER BY quarter, score DESC, case_id
