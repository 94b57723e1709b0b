-- Imports, newest first.
SELECT ingest_id, created_at, kind, file, n_rows, n_rejected, n_warnings
FROM ingests
ORDER BY created_at DESC, ingest_id DESC
