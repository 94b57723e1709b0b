-- Bulk insert from the registered frame `staged_transitions`.
INSERT INTO transitions (from_run, to_run, from_segment, to_segment, kind, overlap)
SELECT from_run, $run_id, from_segment, to_segment, kind, overlap
FROM staged_transitions
