-- One complete run by id.
SELECT run_id, created_at, as_of, window_days, status, n_customers, n_segments, noise_share,
       params, metrics, model_path
FROM runs
WHERE run_id = $run_id AND status = 'complete'
