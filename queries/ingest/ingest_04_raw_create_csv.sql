-- Import step 04 (CSV files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none (the file, $path). Created: ingest_raw, ingest_csv_errors, ingest_csv_scans.
-- Stage a CSV file as text: columns renamed c0..cN ($names), raw_index = 1-based position
-- among the rows read. Rows the reader cannot split (ragged, bad UTF-8) go to
-- ingest_csv_errors with their record number instead of failing the whole read.
CREATE OR REPLACE TEMP TABLE ingest_raw AS
SELECT ordinality AS raw_index, * EXCLUDE (ordinality)
FROM read_csv($path, header = true, all_varchar = true, names = $names, delim = $delim,
              quote = '"', escape = '"', compression = $compression,
              store_rejects = true, rejects_table = 'ingest_csv_errors',
              rejects_scan = 'ingest_csv_scans') WITH ORDINALITY
