-- Number of distinct bad rows (a row can have several problems).
SELECT count(DISTINCT row_number) FROM ingest_bad
