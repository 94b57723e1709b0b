-- Import step 17 (customers files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: ingest_staged, ingest_bad. Created: none. Stored tables: writes customers.
-- Insert new customers and update known ones (by customer_id). A later file updates the
-- values it has; a blank cell or a missing column never erases a stored value.
INSERT INTO customers (customer_id, email, phone, first_name, last_name, country, zip, city,
                       state, consent_ads, ingest_id)
SELECT s.customer_id, s.email, s.phone, s.first_name, s.last_name, s.country, s.zip, s.city,
       s.state, s.consent_ads, $ingest_id
FROM ingest_staged AS s ANTI JOIN ingest_bad AS b ON s.raw_index = b.raw_index
ON CONFLICT (customer_id) DO UPDATE SET
    email = coalesce(excluded.email, email),
    phone = coalesce(excluded.phone, phone),
    first_name = coalesce(excluded.first_name, first_name),
    last_name = coalesce(excluded.last_name, last_name),
    country = coalesce(excluded.country, country),
    zip = coalesce(excluded.zip, zip),
    city = coalesce(excluded.city, city),
    state = coalesce(excluded.state, state),
    consent_ads = coalesce(excluded.consent_ads, consent_ads),
    ingest_id = excluded.ingest_id
