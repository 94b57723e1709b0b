-- Customers with at least one event, and how many of them have no customer record (no contact data: no
-- export can reach them), for the Data page: seconds on ~100 M events, so the app caches it per events
-- fingerprint (ui/common.events_cached; snapshots do not change it, an import of customers does).
SELECT count(DISTINCT customer_id) AS n_customers_with_events,
       count(DISTINCT customer_id) FILTER (WHERE customer_id NOT IN (SELECT customer_id FROM customers))
           AS n_without_record
FROM events
