-- Every name change is kept.
INSERT INTO name_history (run_id, segment_id, lineage_id, name, description, changed_by, changed_at)
VALUES ($run_id, $segment_id, $lineage_id, $name, $description, $who, $at)
