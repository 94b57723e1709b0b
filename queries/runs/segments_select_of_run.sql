-- Segments of a run with their names and profiles, for lineage carry-over and profile evidence.
SELECT segment_id, lineage_id, size, name, suggested_name, description, named_by, named_at, transition, profile
FROM segments WHERE run_id = $run_id
