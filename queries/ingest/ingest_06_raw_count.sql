-- Import step 06 of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_raw, ingest_skipped. Created: none.
-- Rows read, and rows the reader had to skip.
SELECT (SELECT count(*) FROM ingest_raw) AS n_read, (SELECT count(*) FROM ingest_skipped) AS n_skipped
