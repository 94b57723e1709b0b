"""DuckDB: connections, transaction(), query helpers, stored runs, the read model (``read``: every fact the CLI and the app read), the crash journal. May import only the leaves."""
