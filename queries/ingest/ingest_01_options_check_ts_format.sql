-- Import step 01 (only with --ts-format) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none.
-- Fails with a parse error when $ts_format is not a valid strptime format.
SELECT try_strptime('2000-01-01', $ts_format)
