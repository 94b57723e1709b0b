-- Complete snapshots, newest first.
SELECT run_id, created_at, as_of, window_days, n_customers, n_segments, noise_share, params, metrics
FROM runs
WHERE status = 'complete'
ORDER BY as_of DESC, run_id DESC
