-- Id of the latest complete run (by snapshot date, then id), or no row.
SELECT run_id FROM runs WHERE status = 'complete' ORDER BY as_of DESC, run_id DESC LIMIT 1
