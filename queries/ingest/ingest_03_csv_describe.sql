-- Import step 03 (CSV files) of segmentation.ingest.read.STEPS.
-- Temporary tables read: none (the file, $path). Created: none.
-- Column names of a CSV file's header (bad rows are ignored here; the import reports them).
DESCRIBE SELECT *
FROM read_csv($path, header = true, all_varchar = true, delim = $delim, quote = '"',
              escape = '"', compression = $compression, ignore_errors = true)
