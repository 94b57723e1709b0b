-- Lookalikes of one segment (the registered frame staged_lookalikes: customer_id, rank, similarity)
-- with their contact data and ad consent, as extra candidates of an audience export. They carry the
-- segment's id and their similarity in place of a membership probability.
SELECT l.customer_id, CAST($segment_id AS INTEGER) AS segment_id, l.similarity AS probability,
       c.* EXCLUDE (customer_id, ingest_id),
       (c.customer_id IS NOT NULL) AS has_customer_record
FROM staged_lookalikes l
LEFT JOIN customers c ON c.customer_id = l.customer_id
ORDER BY l.rank
