-- The audit history of exports, newest first.
SELECT export_id, created_at, run_id, segment_id, segment_ids, lineage_key, platform, kind,
       n_rows, n_excluded, excluded_by_reason, path, sha256, parent_export_id,
       previous_export_id, options
FROM exports
ORDER BY export_id DESC
