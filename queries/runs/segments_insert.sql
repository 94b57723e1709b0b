-- Bulk insert from the registered frame `staged_segments`.
INSERT INTO segments (run_id, segment_id, lineage_id, size, name, suggested_name, description,
                      transition, profile, named_by, named_at)
SELECT $run_id, segment_id, lineage_id, size, name, suggested_name, description,
       transition, profile, named_by, named_at
FROM staged_segments
