-- Next free run id (runs rows that never completed are never left behind: a run is one transaction).
SELECT coalesce(max(run_id), 0) + 1 AS run_id FROM runs
