-- Import step 03 (Parquet files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none (the file, $path). Created: none (ingest/read.py makes the view ingest_parquet_source of the result).
-- A Parquet file with the 1-based position of each row (projected to text by ingest.py).
SELECT * FROM read_parquet($path) WITH ORDINALITY
