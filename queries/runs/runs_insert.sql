-- A finished run; written in the same transaction as its segments and assignments.
INSERT INTO runs (run_id, created_at, as_of, window_days, status, n_customers, n_segments,
                  noise_share, params, metrics, model_path)
VALUES ($run_id, $created_at, $as_of, $window_days, 'complete', $n_customers, $n_segments,
        $noise_share, $params, $metrics, $model_path)
