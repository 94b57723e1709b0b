"""Segment Workbench — Streamlit entry point: page config and the router, nothing else."""

import streamlit as st

st.set_page_config(page_title="Segment Workbench", page_icon=":material/hub:", layout="wide")

navigation = st.navigation(
    {
        "Workbench": [
            st.Page("segmentation/ui/data.py", title="Data", icon=":material/database:", default=True),
        ],
    }
)
navigation.run()
