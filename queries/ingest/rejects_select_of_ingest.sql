-- The rows one import kept aside (quarantine), in file order.
SELECT row_number, reason, raw
FROM rejects
WHERE ingest_id = $ingest_id
ORDER BY row_number
