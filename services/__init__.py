"""Use cases and ports: chat turns, sessions, identity, settings, model clients. Never imports streamlit."""
