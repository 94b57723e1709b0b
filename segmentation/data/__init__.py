"""DuckDB: connections, transaction(), query helpers, stored runs, the crash journal. May import only the leaves."""
