-- Every segment of every complete run with its snapshot date and the run's customer count
-- (for lineage histories, growth of emerged segments and sizes over time).
SELECT s.run_id, r.as_of, r.n_customers, s.segment_id, s.lineage_id, s.size, s.name, s.suggested_name,
       s.description, s.transition, s.profile
FROM segments s JOIN runs r USING (run_id)
WHERE r.status = 'complete'
ORDER BY r.as_of, s.run_id, s.segment_id
