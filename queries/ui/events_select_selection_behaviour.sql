-- Behaviour of a set of customers (a map selection) in a run's window [as_of - window_days, as_of]:
-- aggregates only, never a row per customer.
SELECT count(DISTINCT customer_id)                                  AS active_customers,
       count(*)                                                     AS events,
       count_if(event_type = 'purchase')                            AS purchases,
       coalesce(sum(amount) FILTER (WHERE event_type = 'purchase'), 0) AS spend,
       mode(channel)                                                AS top_channel,
       mode(category)                                               AS top_category
FROM events
WHERE customer_id IN (SELECT unnest(CAST($customer_ids AS VARCHAR[])))
  AND ts >= CAST(CAST($as_of AS DATE) - CAST($window_days AS INTEGER) AS TIMESTAMP)
  AND ts <  CAST(CAST($as_of AS DATE) + 1 AS TIMESTAMP)
