-- Ground-truth persona of each demo customer at a snapshot date: the persona of the
-- latest month up to the snapshot's month (churned customers keep their last persona).
SELECT customer_id, arg_max(persona, month) AS persona
FROM demo_truth
WHERE month <= date_trunc('month', $as_of::DATE)::DATE
GROUP BY customer_id
