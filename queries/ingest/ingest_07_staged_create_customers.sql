-- Import step 07 (customers files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_input (view of ingest_raw made by ingest/read.py). Created: ingest_staged.
-- Parse the text columns of a customers file (view ingest_input, canonical names).
CREATE OR REPLACE TEMP TABLE ingest_staged AS
WITH input AS (
    SELECT
        raw_index,
        nullif(trim(customer_id), '') AS customer_id,
        nullif(trim(email), '') AS email,
        nullif(trim(phone), '') AS phone,
        nullif(trim(first_name), '') AS first_name,
        nullif(trim(last_name), '') AS last_name,
        nullif(upper(trim(country)), '') AS country,
        nullif(trim(zip), '') AS zip,
        nullif(trim(city), '') AS city,
        nullif(trim(state), '') AS state,
        nullif(lower(trim(consent_ads)), '') AS consent_text
    FROM ingest_input
)
SELECT
    *,
    CASE WHEN consent_text IN ('true', 'yes', 'y', '1', 't') THEN true
         WHEN consent_text IN ('false', 'no', 'n', '0', 'f') THEN false
    END AS consent_ads,
    -- 1 for the first row of each customer id in file order
    row_number() OVER (PARTITION BY customer_id ORDER BY raw_index) AS occurrence
FROM input
