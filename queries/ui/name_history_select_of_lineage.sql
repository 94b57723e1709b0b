-- Name changes of one segment lineage (who and when), newest first.
SELECT h.changed_at, h.changed_by, h.run_id, h.segment_id, h.name, h.description
FROM name_history h
WHERE h.lineage_id = $lineage_id
ORDER BY h.changed_at DESC
