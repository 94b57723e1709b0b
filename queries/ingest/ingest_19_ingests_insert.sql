-- Import step 19 of segmentation.ingest.read.STEPS.
-- Temporary tables read: none. Created: none. Stored tables: writes ingests.
-- Record one import.
INSERT INTO ingests (ingest_id, created_at, kind, file, fingerprint, n_rows, n_rejected,
                     n_warnings, options)
VALUES ($ingest_id, $created_at, $kind, $file, $fingerprint, $n_rows, $n_rejected,
        $n_warnings, $options::JSON)
