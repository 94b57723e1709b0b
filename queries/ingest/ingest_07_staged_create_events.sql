-- Import step 07 (events files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_input (view of ingest_raw made by ingest/read.py). Created: ingest_staged.
-- Parse the text columns of an events file (view ingest_input, canonical names) into typed
-- values, keeping the text beside them so problems can quote what the file said.
CREATE OR REPLACE TEMP TABLE ingest_staged AS
WITH input AS (
    SELECT
        raw_index,
        nullif(trim(customer_id), '') AS customer_id,
        nullif(trim(ts), '') AS ts_text,
        -- 'Email Open', 'email-open' and 'email_open' are one event type
        nullif(replace(replace(lower(trim(event_type)), ' ', '_'), '-', '_'), '') AS event_type_text,
        nullif(replace(replace(lower(trim(channel)), ' ', '_'), '-', '_'), '') AS channel_text,
        nullif(trim(category), '') AS category,
        nullif(trim(amount), '') AS amount_text,
        nullif(trim(quantity), '') AS quantity_text
    FROM ingest_input
)
SELECT
    raw_index,
    customer_id,
    ts_text,
    coalesce(
        try_strptime(ts_text, $ts_format),
        -- an explicit UTC offset ('Z', '+02', '+0200', '+02:00') is converted to UTC;
        -- a plain TIMESTAMP cast would silently drop it
        CASE WHEN length(ts_text) > 19 AND (ts_text[-1:] = 'Z' OR ts_text[-3:-3] IN ('+', '-')
                  OR ts_text[-5:-5] IN ('+', '-') OR ts_text[-6:-6] IN ('+', '-'))
             THEN try_cast(ts_text AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
             ELSE try_cast(ts_text AS TIMESTAMP)
        END
    ) AS ts,
    event_type_text,
    CASE WHEN list_contains($event_types, event_type_text) THEN event_type_text ELSE 'other' END
        AS event_type,
    channel_text,
    CASE WHEN channel_text IS NULL THEN NULL
         WHEN list_contains($channels, channel_text) THEN channel_text
         ELSE 'other'
    END AS channel,
    category,
    amount_text,
    CASE WHEN amount_text IS NULL THEN 0 ELSE try_cast(amount_text AS DOUBLE) END AS amount,
    quantity_text,
    try_cast(quantity_text AS DOUBLE) AS quantity
FROM input
