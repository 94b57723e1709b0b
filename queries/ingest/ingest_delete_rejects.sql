-- Remove the quarantined rows of one import (--replace).
DELETE FROM rejects WHERE ingest_id = $ingest_id
