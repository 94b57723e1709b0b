-- Segments of a run with their names, for lineage carry-over.
SELECT segment_id, lineage_id, size, name, suggested_name, description, named_by, named_at
FROM segments WHERE run_id = $run_id
