-- The latest complete run strictly before a snapshot date (the one a new snapshot is tracked against).
SELECT run_id, as_of FROM runs
WHERE status = 'complete' AND as_of < $as_of
ORDER BY as_of DESC, run_id DESC LIMIT 1
