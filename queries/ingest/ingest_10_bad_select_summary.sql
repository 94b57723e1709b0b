-- Import step 10 of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_bad. Created: none.
-- One line per (column, problem): how many rows, the first row numbers and their values.
SELECT
    column_name,
    problem,
    count(*) AS n_rows,
    min(row_number, 5) AS first_rows,
    min_by(value, row_number, 5) AS sample_values
FROM ingest_bad
GROUP BY column_name, problem
ORDER BY min(row_number), column_name, problem
