-- Import step 11 of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_bad. Created: none.
-- Number of distinct bad rows (a row can have several problems).
SELECT count(DISTINCT row_number) FROM ingest_bad
