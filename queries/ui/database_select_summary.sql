-- One row describing what the database holds (`status` and the app's pages), cheap at any
-- size: the distinct count of customers with events is events_count_customers.sql.
-- n_events and max_ingest_id fingerprint the events table (they change on import or replace).
SELECT
    (SELECT count(*) FROM events)                       AS n_events,
    (SELECT coalesce(max(ingest_id), -1) FROM events)   AS max_ingest_id,
    (SELECT count(*) FROM customers)                    AS n_customers,
    (SELECT min(ts) FROM events)                        AS first_event,
    (SELECT max(ts) FROM events)                        AS last_event,
    (SELECT count(*) FROM ingests)                      AS n_imports,
    (SELECT count(*) FROM runs WHERE status = 'complete') AS n_runs,
    (SELECT count(*) FROM demo_truth)                   AS n_demo_truth_rows
