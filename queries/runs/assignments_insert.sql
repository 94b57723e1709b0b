-- Bulk insert from the registered frame `staged_assignments`.
INSERT INTO assignments (run_id, customer_id, segment_id, probability, x, y, reconstruction_error)
SELECT $run_id, customer_id, segment_id, probability, x, y, reconstruction_error
FROM staged_assignments
