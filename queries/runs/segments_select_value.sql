-- Value of every segment of every complete run (or of the runs in $run_ids when it is not NULL):
-- active customers, purchases and revenue (purchase amounts, before refunds) in the run's own
-- window [as_of - window_days days, as_of + 1 day), and how many of the customers the lineage held
-- in the previous complete run with the same window have no event at all in this window (quiet).
-- The run before each asked-for run comes too, for the revenue trend (segmentation/value.py drops it).
WITH chosen AS (
    SELECT run_id, as_of, window_days,
           lag(run_id) OVER (PARTITION BY window_days ORDER BY as_of, run_id) AS previous_run
    FROM runs
    WHERE status = 'complete'
),
wanted AS (  -- the runs asked for, and the run before each (for the revenue trend)
    SELECT * FROM chosen
    WHERE $run_ids IS NULL OR list_contains($run_ids, run_id)
       OR run_id IN (SELECT previous_run FROM chosen WHERE list_contains($run_ids, run_id))
),
spend AS (
    SELECT w.run_id, e.customer_id,
           count(*) FILTER (WHERE e.event_type = 'purchase') AS purchases,
           coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'purchase'), 0) AS revenue
    FROM wanted w
    JOIN events e
      ON e.ts >= CAST(w.as_of - w.window_days AS TIMESTAMP) AND e.ts < CAST(w.as_of + 1 AS TIMESTAMP)
    GROUP BY ALL
),
members AS (
    SELECT a.run_id, a.segment_id, s.lineage_id, count(*) AS customers,
           sum(coalesce(p.purchases, 0)) AS purchases, sum(coalesce(p.revenue, 0)) AS revenue
    FROM assignments a
    JOIN wanted w USING (run_id)
    JOIN segments s ON s.run_id = a.run_id AND s.segment_id = a.segment_id
    LEFT JOIN spend p ON p.run_id = a.run_id AND p.customer_id = a.customer_id
    GROUP BY ALL
),
quiet AS (  -- the lineage's customers of the previous run who are absent from this run (no event)
    SELECT w.run_id, s.lineage_id, count(*) AS before, count(*) FILTER (WHERE now.customer_id IS NULL) AS quiet
    FROM wanted w
    JOIN assignments a ON a.run_id = w.previous_run
    JOIN segments s ON s.run_id = a.run_id AND s.segment_id = a.segment_id
    LEFT JOIN assignments now ON now.run_id = w.run_id AND now.customer_id = a.customer_id
    WHERE s.segment_id <> -1
    GROUP BY ALL
)
SELECT m.run_id, r.as_of, m.segment_id, m.lineage_id, m.customers, m.purchases, m.revenue,
       m.revenue / m.customers AS revenue_per_customer,
       m.purchases / m.customers AS purchase_frequency,
       CASE WHEN m.segment_id = -1 THEN NULL ELSE q.quiet / q.before END AS quiet_share
FROM members m
JOIN wanted r USING (run_id)
LEFT JOIN quiet q ON q.run_id = m.run_id AND q.lineage_id = m.lineage_id
ORDER BY m.run_id, m.segment_id
