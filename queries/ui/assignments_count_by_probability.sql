-- Membership probability of one segment's customers in 20 bins of 0.05 (bin_start 0.00 … 0.95).
SELECT CAST(least(floor(coalesce(probability, 0) * 20), 19) AS INTEGER) / 20.0 AS bin_start,
       count(*) AS customers
FROM assignments
WHERE run_id = $run_id AND segment_id = $segment_id
GROUP BY ALL
ORDER BY bin_start
