-- Rows read, and rows the reader had to skip.
SELECT (SELECT count(*) FROM ingest_raw) AS n_read, (SELECT count(*) FROM ingest_skipped) AS n_skipped
