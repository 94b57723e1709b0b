-- Materialise the text projection of a Parquet file (view made by ingest.py).
CREATE OR REPLACE TEMP TABLE ingest_raw AS
SELECT * FROM ingest_parquet_source
