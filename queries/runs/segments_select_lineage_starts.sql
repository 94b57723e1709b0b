-- Where each segment of a run began its lineage: the earliest snapshot of that lineage among the
-- $lookback complete runs up to the run (its run and segment id there). A part a new fit cuts
-- out of the segment is checked against it: were its customers in the segment when it began, or did
-- they come to it since (a behaviour that formed inside it)?
WITH seg AS (SELECT segment_id, lineage_id FROM segments WHERE run_id = $run_id AND segment_id >= 0),
     recent AS (SELECT run_id, as_of FROM runs WHERE status = 'complete'
                AND as_of <= (SELECT as_of FROM runs WHERE run_id = $run_id)
                ORDER BY as_of DESC LIMIT $lookback)
SELECT g.segment_id, arg_min(s.run_id, r.as_of) AS since_run,
       arg_min(s.segment_id, r.as_of) AS since_segment
FROM seg g JOIN segments s USING (lineage_id) JOIN recent r ON r.run_id = s.run_id
GROUP BY g.segment_id
ORDER BY g.segment_id
