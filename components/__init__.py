"""Reusable Streamlit pieces shared by the pages."""
