-- Import step 15 (only with --replace) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none. Stored tables: writes ingests.
-- Keep the history of a replaced import, pointing at the import that replaced it.
UPDATE ingests
SET options = json_merge_patch(coalesce(options, '{}'::JSON), json_object('replaced_by', $replaced_by))
WHERE ingest_id = $ingest_id
