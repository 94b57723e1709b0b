-- Profiles of the lineages of a run's segments in the $lookback runs up to it (the drift
-- check's references): `fitted` marks the run's own rows.
WITH fit AS (SELECT segment_id, lineage_id FROM segments WHERE run_id = $run_id AND segment_id >= 0),
     recent AS (SELECT run_id, as_of FROM runs WHERE status = 'complete'
                AND as_of <= (SELECT as_of FROM runs WHERE run_id = $run_id)
                ORDER BY as_of DESC LIMIT $lookback)
SELECT f.segment_id, s.run_id = $run_id AS fitted, r.as_of, s.profile
FROM fit f JOIN segments s USING (lineage_id) JOIN recent r ON r.run_id = s.run_id
