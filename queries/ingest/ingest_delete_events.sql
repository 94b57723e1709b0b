-- Remove the events of one import (--replace).
DELETE FROM events WHERE ingest_id = $ingest_id
