-- Imports of one file recorded since a (killed) import began: did it finish?
SELECT ingest_id FROM ingests
WHERE created_at >= $created_at AND file = $file
ORDER BY ingest_id
