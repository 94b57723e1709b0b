-- A complete run for a snapshot date and window, if any (timelines skip such dates).
SELECT run_id FROM runs
WHERE status = 'complete' AND as_of = $as_of::DATE AND window_days = $window_days
ORDER BY run_id LIMIT 1
