-- Members of one segment of a complete run with their contact data and ad consent:
-- the candidates of an audience export (exclusions are counted in Python).
-- c.* keeps optional customer columns (e.g. birth_year, gender) when a table has them.
SELECT a.customer_id, a.segment_id, a.probability,
       c.* EXCLUDE (customer_id, ingest_id),
       (c.customer_id IS NOT NULL) AS has_customer_record
FROM assignments a
JOIN runs r ON r.run_id = a.run_id AND r.status = 'complete'
LEFT JOIN customers c ON c.customer_id = a.customer_id
WHERE a.run_id = $run_id AND a.segment_id = $segment_id
ORDER BY a.customer_id
