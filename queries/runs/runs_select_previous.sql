-- The latest complete run strictly before a snapshot date (the one a new snapshot is tracked
-- against); with $window_days, only runs with that look-back window are comparable. `fitted`: its
-- models were fitted on its own data (not reused from an earlier run; runs stored before the model
-- decision was recorded count as fitted).
SELECT run_id, as_of, window_days,
       COALESCE(TRY_CAST(json_extract_string(metrics, '$.model.refit') AS BOOLEAN), TRUE) AS fitted
FROM runs
WHERE status = 'complete' AND as_of < $as_of
  AND (CAST($window_days AS INTEGER) IS NULL OR window_days = CAST($window_days AS INTEGER))
ORDER BY as_of DESC, run_id DESC LIMIT 1
