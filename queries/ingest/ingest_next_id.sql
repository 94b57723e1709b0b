-- Id of the next import.
SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests
