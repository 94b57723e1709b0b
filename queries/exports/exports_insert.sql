-- One audit row per written file (the audience, or one of its delta files).
INSERT INTO exports (export_id, created_at, run_id, segment_id, platform, n_rows, n_excluded,
                     path, sha256, excluded_by_reason, kind, lineage_key, segment_ids,
                     parent_export_id, previous_export_id, options)
VALUES ($export_id, $created_at, $run_id, $segment_id, $platform, $n_rows, $n_excluded,
        $path, $sha256, $excluded_by_reason, $kind, $lineage_key, $segment_ids,
        $parent_export_id, $previous_export_id, $options)
