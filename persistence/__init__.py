"""Storage: SQLAlchemy models, repositories, the engine and migrations. Never imports streamlit."""
