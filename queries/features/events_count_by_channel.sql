-- Channel mix per customer active in the look-back window, long form:
-- customer_id, channel, n_events (features.py turns counts into shares of the
-- customer's events; counts keep the sums exact whatever the row order).
-- Window as in events_select_customer_features.sql: ts in [$as_of - $window_days days, $as_of + 1 day).
-- Events without a channel count as 'unknown' so the shares sum to 1.
SELECT
    customer_id,
    coalesce(nullif(trim(channel), ''), 'unknown') AS channel,
    count(*) AS n_events
FROM events
WHERE ts >= CAST(CAST($as_of AS DATE) - CAST($window_days AS INTEGER) AS TIMESTAMP)
  AND ts <  CAST(CAST($as_of AS DATE) + 1 AS TIMESTAMP)
  -- split-half reliability (features.feature_reliability): one half of the events, else all
  AND (CAST($half AS INTEGER) IS NULL
       OR hash(customer_id, ts, event_type, channel, category, amount) % 2 = CAST($half AS INTEGER))
GROUP BY customer_id, coalesce(nullif(trim(channel), ''), 'unknown')
