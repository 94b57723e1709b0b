-- Import step 09 of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_problems, ingest_skipped. Created: ingest_bad.
-- Every problem with its file row number. raw_index counts only the rows the reader kept,
-- so rows it skipped (ingest_skipped) shift the numbers of the rows after them.
CREATE OR REPLACE TEMP TABLE ingest_bad AS
WITH skipped AS (
    SELECT
        row_number - row_number() OVER (ORDER BY row_number) AS good_before,
        row_number() OVER (ORDER BY row_number) AS n_skipped
    FROM ingest_skipped
), offsets AS (
    SELECT good_before, max(n_skipped) AS n_skipped FROM skipped GROUP BY good_before
)
SELECT
    p.raw_index,
    p.raw_index + coalesce(o.n_skipped, 0) AS row_number,
    p.column_name,
    p.problem,
    p.value,
    NULL::VARCHAR AS line
FROM ingest_problems AS p ASOF LEFT JOIN offsets AS o ON p.raw_index > o.good_before
UNION ALL
SELECT NULL, row_number, NULL, problem, value, line FROM ingest_skipped
