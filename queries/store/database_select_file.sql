-- The file of the connection's database (NULL for an in-memory database).
SELECT path FROM duckdb_databases() WHERE database_name = current_database()
