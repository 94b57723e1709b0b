-- Import step 05 (CSV files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_csv_errors. Created: ingest_skipped.
-- Rows the CSV reader rejected, one per data row (row 1 = first row after the header).
CREATE OR REPLACE TEMP TABLE ingest_skipped AS
SELECT
    line - 1 AS row_number,
    string_agg(DISTINCT CASE
        WHEN error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS')
            THEN 'wrong number of fields (the header has ' || $n_columns || ')'
        WHEN error_type IN ('INVALID ENCODING', 'INVALID UNICODE') THEN 'text that is not valid UTF-8'
        WHEN error_type = 'UNQUOTED VALUE' THEN 'a stray quote character'
        WHEN error_type = 'LINE SIZE OVER MAXIMUM' THEN 'a line that is too long'
        ELSE lower(error_type)
    END, '; ') AS problem,
    coalesce(any_value(regexp_extract(error_message, 'Found: (\d+)', 1) || ' fields')
             FILTER (error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS')), '') AS value,
    any_value(csv_line) AS line
FROM ingest_csv_errors
GROUP BY line
