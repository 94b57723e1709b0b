-- Import step 12 of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none. Stored tables: reads ingests.
-- Id of the next import.
SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests
