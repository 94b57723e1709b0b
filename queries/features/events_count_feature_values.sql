-- Channels and categories present in the events (all time), with event counts,
-- most common first: the dynamic part of the feature catalog.
SELECT 'channel' AS dimension, coalesce(nullif(trim(channel), ''), 'unknown') AS value, count(*) AS n_events
FROM events
GROUP BY 2
UNION ALL
SELECT 'category' AS dimension, trim(category) AS value, count(*) AS n_events
FROM events
WHERE nullif(trim(category), '') IS NOT NULL
GROUP BY 2
ORDER BY dimension, n_events DESC, value
