"""Segment Workbench — Streamlit entry point: page config, the page layout and the router, nothing else."""

import streamlit as st

st.set_page_config(page_title="Segment Workbench", page_icon=":material/hub:", layout="wide")

# Streamlit leaves ~6rem above every page; a third of it keeps the Overview's cards above the fold at 1280×720.
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>")

navigation = st.navigation(
    {
        "Segments": [
            st.Page("segmentation/ui/overview.py", title="Overview", icon=":material/dashboard:", default=True),
            st.Page("segmentation/ui/map.py", title="Map", icon=":material/scatter_plot:"),
            st.Page("segmentation/ui/segment.py", title="Segment", icon=":material/group:"),
            st.Page("segmentation/ui/evolution.py", title="Evolution", icon=":material/timeline:"),
        ],
        "Act": [
            st.Page("segmentation/ui/export.py", title="Export", icon=":material/ios_share:"),
        ],
        "Workbench": [
            st.Page("segmentation/ui/run.py", title="Run", icon=":material/play_circle:"),
            st.Page("segmentation/ui/data.py", title="Data", icon=":material/database:"),
            st.Page("segmentation/ui/glossary.py", title="Glossary", icon=":material/menu_book:"),
        ],
    }
)
navigation.run()
