-- Import step 05 (Parquet files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: ingest_skipped.
-- Parquet files have no reader-level row errors: an empty ingest_skipped.
CREATE OR REPLACE TEMP TABLE ingest_skipped (
    row_number BIGINT, problem VARCHAR, value VARCHAR, line VARCHAR
)
