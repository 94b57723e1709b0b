-- Every stored run id, whatever its status (model folders without one are leftovers).
SELECT run_id FROM runs
