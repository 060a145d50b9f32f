from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from components.runtime import close_cached_application
from tests.conftest import PROJECT_ROOT

ENTRY_POINT = str(PROJECT_ROOT / "Home.py")
CHAT_PAGE = "app_pages/chat.py"
RUN_TIMEOUT_SECONDS = 30


@pytest.fixture
def open_app(app_env: pytest.MonkeyPatch, clean_db: object) -> Iterator[Callable[..., AppTest]]:
    """Open the app as a new browser tab would: a fresh AppTest, optionally on a page and URL query."""

    def _open(page: str | None = None, **query: str) -> AppTest:
        app = AppTest.from_file(ENTRY_POINT, default_timeout=RUN_TIMEOUT_SECONDS)
        for key, value in query.items():
            app.query_params[key] = value
        if page is not None:
            app.switch_page(page)
        return app.run()

    st.cache_data.clear()  # cached figures of an earlier test must not show up in this one
    yield _open
    close_cached_application()
    st.cache_data.clear()
