-- A sample of one segment's members for the Segment page. Contact data is masked here, in
-- the database, so no e-mail, phone or name ever reaches the app: e-mail as first letter +
-- domain, phone as its last two digits, names as initials.
SELECT a.customer_id,
       round(a.probability, 3) AS membership_probability,
       CASE WHEN c.email IS NULL OR position('@' IN c.email) = 0 THEN NULL
            ELSE left(trim(c.email), 1) || '•••@' || split_part(trim(c.email), '@', 2) END AS email,
       CASE WHEN c.phone IS NULL OR length(regexp_replace(c.phone, '[^0-9]', '', 'g')) < 4 THEN NULL
            ELSE '••• ••' || right(regexp_replace(c.phone, '[^0-9]', '', 'g'), 2) END AS phone,
       nullif(concat_ws(' ', left(c.first_name, 1) || '.', left(c.last_name, 1) || '.'), '') AS initials,
       c.country,
       c.consent_ads
FROM assignments a
LEFT JOIN customers c USING (customer_id)
WHERE a.run_id = $run_id AND a.segment_id = $segment_id
ORDER BY hash(a.customer_id), a.customer_id
LIMIT $limit
