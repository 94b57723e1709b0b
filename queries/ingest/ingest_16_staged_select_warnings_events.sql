-- Import step 16 (events files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_staged, ingest_bad. Created: none.
-- Imported rows whose event type or channel is not a known one (stored as 'other').
SELECT
    'event_type' AS column_name,
    count(*) AS n_rows,
    count(DISTINCT s.event_type_text) AS n_distinct,
    list_sort(list(DISTINCT s.event_type_text))[1:5] AS sample_values
FROM ingest_staged AS s ANTI JOIN ingest_bad AS b ON s.raw_index = b.raw_index
WHERE s.event_type = 'other' AND s.event_type_text <> 'other'
UNION ALL
SELECT
    'channel',
    count(*),
    count(DISTINCT s.channel_text),
    list_sort(list(DISTINCT s.channel_text))[1:5]
FROM ingest_staged AS s ANTI JOIN ingest_bad AS b ON s.raw_index = b.raw_index
WHERE s.channel = 'other' AND s.channel_text <> 'other'
