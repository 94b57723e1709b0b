-- Extent of the stored events: used to explain an empty look-back window.
SELECT count(*) AS n_events, min(ts) AS first_event, max(ts) AS last_event
FROM events
