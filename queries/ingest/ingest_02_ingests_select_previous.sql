-- Import step 02 of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none. Stored tables: reads ingests.
-- The import of the same file content (SHA-256) and kind that is still in place, if any.
SELECT ingest_id, created_at, file
FROM ingests
WHERE fingerprint = $fingerprint
  AND kind = $kind
  AND json_extract_string(options, '$.replaced_by') IS NULL
ORDER BY ingest_id DESC
LIMIT 1
