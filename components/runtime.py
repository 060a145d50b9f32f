"""The UI's handles on process-wide objects: settings, the application, the current user.

`st.cache_resource` keeps one `Application` (engine, model clients, turn runner) per server
process; it is never mutated by a page.
"""

from __future__ import annotations

import atexit
import logging

import streamlit as st
from pydantic import ValidationError

from services.application import Application, build_application
from services.config import Settings, describe_settings_error, get_settings
from services.identity import IDENTITY_HEADERS, IdentityError, resolve_user
from services.views import User

logger = logging.getLogger(__name__)


@st.cache_resource(show_spinner="Starting the database…")
def _application(_settings: Settings) -> Application:
    logging.basicConfig(level=_settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    application = build_application(_settings)
    # On SIGTERM (stop_app.sh, a redeploy) replies in flight are saved as interrupted, not lost.
    atexit.register(application.close)
    return application


def settings_or_stop() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        st.error(
            describe_settings_error(error) + " Fix it in the environment or `.env`, then restart the app."
        )
        st.stop()


def application_or_stop() -> Application:
    settings = settings_or_stop()
    try:
        return _application(settings)
    except Exception as error:
        logger.exception("The application could not start: %s", type(error).__name__)
        st.error(
            "The database could not be reached, so the app cannot start. Check DATABASE_URL (or the "
            "Lakebase resource) and that the server is running, then reload this page."
        )
        st.stop()


def current_user_or_stop(settings: Settings) -> User:
    try:
        # get_all keeps a repeated header visible, so that identity fails closed on it.
        headers = {name: st.context.headers.get_all(name) for name in IDENTITY_HEADERS}
        return resolve_user(headers, settings)
    except IdentityError as error:
        st.error(error.user_message)
        st.stop()


def close_cached_application() -> None:
    """Stop the cached application's turn runner and engine, and forget it (tests, shutdown)."""
    try:
        application = _application(get_settings())
    except Exception:
        logger.warning("No application to close", exc_info=True)
    else:
        atexit.unregister(application.close)
        application.close()
    _application.clear()
