"""Pure modelling on arrays and frames (no DuckDB, no streamlit): preprocessing, autoencoder, the sklearn-style pipeline, mapping, metrics. May import only the leaves."""
