"""The feature table: its catalog, the SQL that builds it, each feature's signal. May import data and the leaves."""
