-- Customers with at least one event (`status`, the Data page): seconds on ~100 M events, so the
-- app caches it per events fingerprint (ui/common.events_query; snapshots do not change it).
SELECT count(DISTINCT customer_id) AS n_customers_with_events FROM events
