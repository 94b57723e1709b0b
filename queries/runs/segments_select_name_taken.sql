-- Another segment of the same run already displayed under $name (its given name, else its suggested one).
SELECT segment_id, coalesce(name, suggested_name) AS shown
FROM segments
WHERE run_id = $run_id AND segment_id <> $segment_id AND segment_id <> -1
  AND lower(coalesce(name, suggested_name)) = lower($name)
LIMIT 1
