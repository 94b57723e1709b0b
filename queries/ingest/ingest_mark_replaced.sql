-- Keep the history of a replaced import, pointing at the import that replaced it.
UPDATE ingests
SET options = json_merge_patch(coalesce(options, '{}'::JSON), json_object('replaced_by', $replaced_by))
WHERE ingest_id = $ingest_id
