"""Streamlit pages and their helpers (the only package that imports streamlit), one module per page. May import workflows, ingest, audiences, demo and every layer below."""
