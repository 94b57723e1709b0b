-- Import step 14 (only with --replace) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none. Stored tables: writes rejects.
-- Remove the quarantined rows of one import (--replace).
DELETE FROM rejects WHERE ingest_id = $ingest_id
