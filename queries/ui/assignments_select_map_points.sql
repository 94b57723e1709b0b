-- Map points of one run, downsampled for the browser: each segment keeps its share of
-- $limit points (and at least 200, or all it has), the same customers on every call
-- (ordered by a hash of the id). segment_size and total let the page scale counts back up.
WITH ranked AS (
    SELECT customer_id, segment_id, probability, x, y, reconstruction_error,
           row_number() OVER (PARTITION BY segment_id ORDER BY hash(customer_id), customer_id) AS rank_in_segment,
           count(*) OVER (PARTITION BY segment_id) AS segment_size,
           count(*) OVER ()                        AS total
    FROM assignments
    WHERE run_id = $run_id
)
SELECT customer_id, segment_id, probability, x, y, reconstruction_error, segment_size, total
FROM ranked
WHERE rank_in_segment <= greatest(least(segment_size, 200), ceil(CAST($limit AS DOUBLE) * segment_size / total))
ORDER BY segment_id, rank_in_segment
