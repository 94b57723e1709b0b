-- A Parquet file with the 1-based position of each row (projected to text by ingest.py).
SELECT * FROM read_parquet($path) WITH ORDINALITY
