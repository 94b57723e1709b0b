-- Stored assignment of every customer of a run.
SELECT customer_id, segment_id, probability FROM assignments WHERE run_id = $run_id
