-- Customers of an earlier full export with their current contact data (a delta's removes
-- are written from it; consent is not asked: removing someone is always allowed).
SELECT m.customer_id, c.* EXCLUDE (customer_id, ingest_id)
FROM export_members m
LEFT JOIN customers c ON c.customer_id = m.customer_id
WHERE m.export_id = $export_id
ORDER BY m.customer_id
