-- Import step 17 (events files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_staged, ingest_bad. Created: none. Stored tables: writes events.
-- Append the good rows of a staged events file; identical rows are kept (real repeats).
INSERT INTO events (customer_id, ts, event_type, channel, category, amount, quantity, ingest_id)
SELECT s.customer_id, s.ts, s.event_type, s.channel, s.category, s.amount, s.quantity, $ingest_id
FROM ingest_staged AS s ANTI JOIN ingest_bad AS b ON s.raw_index = b.raw_index
