-- Import step 04 (Parquet files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_parquet_source (view made by ingest/read.py). Created: ingest_raw.
-- Materialise the text projection of a Parquet file (view made by ingest.py).
CREATE OR REPLACE TEMP TABLE ingest_raw AS
SELECT * FROM ingest_parquet_source
