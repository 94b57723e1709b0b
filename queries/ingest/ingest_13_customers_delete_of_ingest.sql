-- Import step 13 (customers files, only with --replace) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none. Stored tables: writes customers.
-- Remove the customers last written by one import (--replace).
DELETE FROM customers WHERE ingest_id = $ingest_id
