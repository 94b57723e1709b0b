-- The name and description of one segment as stored now (checked before an edit that expects them).
SELECT name, description, named_by, named_at FROM segments
WHERE run_id = $run_id AND segment_id = $segment_id
