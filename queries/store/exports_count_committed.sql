-- Was an export that a killed process had begun committed? (its full file's audit row, written after it began)
SELECT count(*) FROM exports
WHERE path = $path AND sha256 = $sha256 AND created_at >= $created_at
