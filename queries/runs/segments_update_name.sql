-- Name and/or describe one segment (a NULL field is left as it is); keeps who and when.
UPDATE segments
SET name = coalesce($name, name),
    description = coalesce($description, description),
    named_by = $who,
    named_at = $at
WHERE run_id = $run_id AND segment_id = $segment_id
RETURNING run_id, segment_id, lineage_id, name, description, named_by, named_at
