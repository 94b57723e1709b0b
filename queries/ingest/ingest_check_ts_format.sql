-- Fails with a parse error when $ts_format is not a valid strptime format.
SELECT try_strptime('2000-01-01', $ts_format)
