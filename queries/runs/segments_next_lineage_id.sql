-- Next free lineage id.
SELECT coalesce(max(lineage_id), 0) + 1 FROM segments
