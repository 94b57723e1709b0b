-- Import step 08 (customers files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_staged. Created: ingest_problems.
-- Every problem of every row of a staged customers file (raw_index, column, problem, value).
-- Values of PII columns (email, phone, names) are never quoted.
CREATE OR REPLACE TEMP TABLE ingest_problems AS
SELECT raw_index, 'customer_id' AS column_name, 'empty customer id' AS problem, '' AS value
FROM ingest_staged WHERE customer_id IS NULL
UNION ALL
SELECT raw_index, 'customer_id', 'customer id repeated from an earlier row', customer_id
FROM ingest_staged WHERE customer_id IS NOT NULL AND occurrence > 1
UNION ALL
SELECT raw_index, 'country', 'not an ISO-3166 alpha-2 country code', country
FROM ingest_staged WHERE country IS NOT NULL AND NOT regexp_full_match(country, '[A-Z]{2}')
UNION ALL
SELECT raw_index, 'consent_ads', 'not a yes/no value', consent_text
FROM ingest_staged WHERE consent_text IS NOT NULL AND consent_ads IS NULL
