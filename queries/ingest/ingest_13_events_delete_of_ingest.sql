-- Import step 13 (events files, only with --replace) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none. Stored tables: writes events.
-- Remove the events of one import (--replace).
DELETE FROM events WHERE ingest_id = $ingest_id
