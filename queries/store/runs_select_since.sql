-- Complete runs stored since a (killed) operation began: what it had finished.
SELECT run_id, as_of FROM runs
WHERE status = 'complete' AND created_at >= $created_at
ORDER BY run_id
