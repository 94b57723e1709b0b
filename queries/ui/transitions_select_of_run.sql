-- Transitions into one run from the snapshot it was tracked against, with both sides' names.
SELECT t.from_run, fr.as_of AS from_as_of, t.to_run, t.from_segment, t.to_segment, t.kind, t.overlap,
       coalesce(fs.name, fs.suggested_name) AS from_label, fs.size AS from_size,
       coalesce(ts.name, ts.suggested_name) AS to_label, ts.size AS to_size
FROM transitions t
LEFT JOIN runs fr ON fr.run_id = t.from_run
LEFT JOIN segments fs ON fs.run_id = t.from_run AND fs.segment_id = t.from_segment
LEFT JOIN segments ts ON ts.run_id = t.to_run AND ts.segment_id = t.to_segment
WHERE t.to_run = $run_id
ORDER BY CASE t.kind WHEN 'emerged' THEN 0 WHEN 'split' THEN 1 WHEN 'merged' THEN 2
                     WHEN 'disappeared' THEN 3 WHEN 'survived' THEN 4 ELSE 5 END, t.to_segment, t.from_segment
