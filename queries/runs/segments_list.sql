-- Segments of one run, largest first, noise (-1) last.
SELECT s.run_id, s.segment_id, s.lineage_id, s.size, s.name, s.suggested_name, s.description,
       s.transition, s.named_by, s.named_at, s.profile, r.as_of
FROM segments s JOIN runs r USING (run_id)
WHERE s.run_id = $run_id AND r.status = 'complete'
ORDER BY (s.segment_id = -1), s.size DESC, s.segment_id
