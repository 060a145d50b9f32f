"""The UI's handle on the process-wide application (engine, model clients, turn runner, services).

`st.cache_resource` keeps one `Application` (engine, model clients, turn runner) per server
process; it is never mutated by a page.
"""

from __future__ import annotations

import atexit
import logging

import streamlit as st

from components.access import current_user_or_stop, settings_or_stop
from services.application import Application, build_application, report_startup_failure
from services.config import Settings

logger = logging.getLogger(__name__)


# The application cached_application built, if any: closing it must never build one.
_built: list[Application] = []


@st.cache_resource(show_spinner="Starting the database…")
def cached_application(_settings: Settings) -> Application:
    """This server process's one Application, built on first use."""
    application = build_application(_settings)
    # On SIGTERM (stop_app.sh, a redeploy) replies in flight are saved as interrupted, not lost.
    atexit.register(application.close)
    _built.append(application)
    return application


def application_or_stop() -> Application:
    settings = settings_or_stop()
    try:
        return cached_application(settings)
    except Exception as error:
        st.error(report_startup_failure(error))
        st.stop()


def close_cached_application() -> None:
    """Stop the cached application's turn runner and engine, and forget it (tests, shutdown).
    Nothing is built when there is nothing to close."""
    while _built:
        application = _built.pop()
        atexit.unregister(application.close)
        application.close()
    cached_application.clear()


__all__ = [
    "application_or_stop",
    "cached_application",
    "close_cached_application",
    "current_user_or_stop",
    "settings_or_stop",
]
