-- Remove the customers last written by one import (--replace).
DELETE FROM customers WHERE ingest_id = $ingest_id
