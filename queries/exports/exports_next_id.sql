-- The next export id (taken inside the write transaction).
SELECT coalesce(max(export_id), 0) + 1 AS export_id FROM exports
