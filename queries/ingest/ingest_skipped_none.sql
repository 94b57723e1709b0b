-- Parquet files have no reader-level row errors: an empty ingest_skipped.
CREATE OR REPLACE TEMP TABLE ingest_skipped (
    row_number BIGINT, problem VARCHAR, value VARCHAR, line VARCHAR
)
