-- Import step 08 (events files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_staged. Created: ingest_problems.
-- Every problem of every row of a staged events file (raw_index, column, problem, value).
CREATE OR REPLACE TEMP TABLE ingest_problems AS
SELECT raw_index, 'customer_id' AS column_name, 'empty customer id' AS problem, '' AS value
FROM ingest_staged WHERE customer_id IS NULL
UNION ALL
SELECT raw_index, 'ts', 'empty timestamp', '' FROM ingest_staged WHERE ts_text IS NULL
UNION ALL
SELECT raw_index, 'ts', 'unparseable timestamp', ts_text
FROM ingest_staged WHERE ts_text IS NOT NULL AND ts IS NULL
UNION ALL
SELECT raw_index, 'ts', 'implausible timestamp (before 1970)', ts_text
FROM ingest_staged WHERE ts < TIMESTAMP '1970-01-01'
UNION ALL
SELECT raw_index, 'ts', 'implausible timestamp (in the future, after '
       || strftime($latest::TIMESTAMP, '%Y-%m-%d %H:%M') || ')', ts_text
FROM ingest_staged WHERE ts > $latest::TIMESTAMP
UNION ALL
SELECT raw_index, 'event_type', 'empty event type', '' FROM ingest_staged WHERE event_type_text IS NULL
UNION ALL
SELECT raw_index, 'amount', 'non-numeric amount', amount_text
FROM ingest_staged WHERE amount IS NULL
UNION ALL
SELECT raw_index, 'amount', 'non-finite amount', amount_text
FROM ingest_staged WHERE NOT isfinite(amount)
UNION ALL
SELECT raw_index, 'quantity', 'non-numeric quantity', quantity_text
FROM ingest_staged WHERE quantity_text IS NOT NULL AND quantity IS NULL
UNION ALL
SELECT raw_index, 'quantity', 'non-finite quantity', quantity_text
FROM ingest_staged WHERE NOT isfinite(quantity)
