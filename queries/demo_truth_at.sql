-- Ground-truth persona of each demo customer in the month of a snapshot date.
SELECT customer_id, persona
FROM demo_truth
WHERE month = date_trunc('month', $as_of::DATE)::DATE
