-- Category affinity per customer, long form: customer_id, category, n_events
-- (category-tagged events only; features.py turns counts into shares of the
-- customer's tagged events, 0 for customers without any).
-- Window as in events_select_customer_features.sql: ts in [$as_of - $window_days days, $as_of + 1 day).
SELECT
    customer_id,
    trim(category) AS category,
    count(*) AS n_events
FROM events
WHERE ts >= CAST(CAST($as_of AS DATE) - CAST($window_days AS INTEGER) AS TIMESTAMP)
  AND ts <  CAST(CAST($as_of AS DATE) + 1 AS TIMESTAMP)
  -- split-half reliability (features.feature_reliability): one half of the events, else all
  AND (CAST($half AS INTEGER) IS NULL
       OR hash(customer_id, ts, event_type, channel, category, amount) % 2 = CAST($half AS INTEGER))
  AND nullif(trim(category), '') IS NOT NULL
GROUP BY customer_id, trim(category)
