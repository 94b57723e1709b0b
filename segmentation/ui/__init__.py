"""Streamlit pages (the only package that imports streamlit). One module per page."""
