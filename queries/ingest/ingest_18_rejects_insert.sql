-- Import step 18 (only when rows are bad, with --quarantine) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_bad, ingest_raw_json (view made by ingest/files.py). Created: none. Stored tables: writes rejects.
-- Keep every bad row (quarantine): its row number, all its problems, its values as read.
INSERT INTO rejects (ingest_id, file, row_number, reason, raw)
SELECT
    $ingest_id,
    $file,
    b.row_number,
    string_agg(coalesce(b.column_name || ': ', '') || b.problem, '; '
               ORDER BY b.column_name, b.problem),
    coalesce(any_value(j.raw), json_object('line', any_value(b.line)))
FROM ingest_bad AS b LEFT JOIN ingest_raw_json AS j ON j.raw_index = b.raw_index
GROUP BY b.row_number
ORDER BY b.row_number
