-- Segment sizes of every complete run, for sizes over time and lineage views (no profiles).
SELECT r.as_of, r.run_id, s.segment_id, s.lineage_id, s.size, s.name, s.suggested_name, s.transition
FROM segments s
JOIN runs r USING (run_id)
WHERE r.status = 'complete'
ORDER BY r.as_of, r.run_id, s.segment_id
