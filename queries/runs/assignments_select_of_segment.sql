-- The customers a run assigned to one segment (a lineage's members where it began).
SELECT customer_id FROM assignments WHERE run_id = $run_id AND segment_id = $segment_id
