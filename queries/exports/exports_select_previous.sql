-- The latest full export of the same segment lineage(s) to the same platform:
-- what a new export's delta (adds / removes) is computed against.
SELECT export_id, run_id, created_at, path
FROM exports
WHERE platform = $platform AND lineage_key = $lineage_key AND kind = 'full'
ORDER BY export_id DESC
LIMIT 1
