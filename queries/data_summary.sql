-- One row describing what the database holds (the Data page and `status`).
SELECT
    (SELECT count(*) FROM events)                       AS n_events,
    (SELECT count(DISTINCT customer_id) FROM events)    AS n_customers_with_events,
    (SELECT count(*) FROM customers)                    AS n_customers,
    (SELECT min(ts) FROM events)                        AS first_event,
    (SELECT max(ts) FROM events)                        AS last_event,
    (SELECT count(*) FROM ingests)                      AS n_imports,
    (SELECT count(*) FROM runs WHERE status = 'complete') AS n_runs,
    (SELECT count(*) FROM demo_truth)                   AS n_demo_truth_rows
