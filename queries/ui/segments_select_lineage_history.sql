-- Every snapshot of one segment lineage, oldest first, with its share of the run's customers.
SELECT r.run_id, r.as_of, s.segment_id, s.lineage_id, s.size,
       s.size / nullif(r.n_customers, 0) AS share,
       s.name, s.suggested_name, s.transition, s.named_by, s.named_at
FROM segments s
JOIN runs r USING (run_id)
WHERE s.lineage_id = $lineage_id AND r.status = 'complete'
ORDER BY r.as_of, r.run_id
