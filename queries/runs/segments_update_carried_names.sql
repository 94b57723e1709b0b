-- Names given to the previous snapshot's segments while this run was being computed carry over too:
-- a survivor (or merge heir) takes its parent's name when the parent was (re)named after tracking read it.
UPDATE segments AS s
SET name = p.name, description = p.description, named_by = p.named_by, named_at = p.named_at
FROM segments AS p
WHERE s.run_id = $run_id AND p.run_id = $from_run
  AND s.lineage_id = p.lineage_id
  AND s.transition IN ('survived', 'merged')
  AND p.named_at IS NOT NULL
  AND (s.named_at IS NULL OR p.named_at > s.named_at)
