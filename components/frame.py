"""The frame around every page: page config, settings, the current user and the navigation menu.

Home.py runs the frame, which then runs the page the URL asks for. The page scripts live in
`app_pages/`, not `pages/`: a folder named `pages/` makes Streamlit draw its own automatic menu of
that folder on the first run after the server starts, and run the page without Home.py.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from components import state
from components.heap import freeze_what_imports_made
from components.page_behaviour import add_page_behaviour

APP_TITLE = "Databricks Chat"
FAVICON = Path(__file__).resolve().parent.parent / "assets" / "favicon.png"
# The icon is a file in the repository (an emoji or Material icon would be fetched from a CDN), sent
# as a data URL made once: given the file's path, Streamlit reads, hashes and re-registers it on every
# run of every page.
FAVICON_URL = "data:image/png;base64," + base64.b64encode(FAVICON.read_bytes()).decode("ascii")

# Set once the application is built in this process: later runs skip the start-up spinner, whose
# timer is a new thread on every run.
_application_built = False


def _menu(*, is_admin: bool) -> StreamlitPage:
    # A copy of each page per run: st.navigation marks the page it returns as the one allowed to
    # run, and the run clears the mark, so the same page object must not serve two tabs at once.
    return st.navigation([copy.copy(page) for page in _menu_pages(is_admin=is_admin)])


@functools.cache
def _menu_pages(*, is_admin: bool) -> tuple[StreamlitPage, ...]:
    """The menu's pages, made once per process: st.Page resolves and checks its file each time it
    is called, two thirds of the menu's time on every run (bench/load)."""
    # Pages that are not in the menu stay reachable by URL, and refuse whoever may not use them.
    admin_visibility = "visible" if is_admin else "hidden"
    return (
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("app_pages/chat.py", title="Chat", icon=":material/chat:", url_path="chat"),
        st.Page("app_pages/history.py", title="History", icon=":material/history:", url_path="history"),
        st.Page(
            "app_pages/admin.py",
            title="Admin",
            icon=":material/monitoring:",
            url_path="admin",
            visibility=admin_visibility,
        ),
        st.Page(
            "app_pages/admin_conversation.py",
            title="Conversation (read-only)",
            icon=":material/visibility:",
            url_path="admin_conversation",
            visibility="hidden",
        ),
    )


def set_page_config(title: str | None = None) -> None:
    """The tab's title, icon and layout, in one message: sent on every run (a new run resets the
    icon). A page that knows a better title than the menu's sets it again (the chat page)."""
    page_title = f"{title} · {APP_TITLE}" if title else APP_TITLE
    st.set_page_config(page_title=page_title, page_icon=FAVICON_URL, layout="wide")


def run_frame() -> None:
    """Home.py's body: draw the navigation, then run the page the URL asks for."""
    from components.access import CannotServe, current_user_or_raise, refuse, settings_or_raise

    try:
        user = current_user_or_raise(settings_or_raise())
    except CannotServe as problem:  # the page says so, in the app's own frame
        set_page_config()
        refuse(problem)
    page = _menu(is_admin=user.is_admin)
    set_page_config(page.title)
    # The runtime pulls in the database and model libraries: imported only after the menu is out,
    # under a spinner, which shows only when this takes over half a second (the first visit after a
    # start): never a blank page.
    global _application_built
    with contextlib.nullcontext() if _application_built else st.spinner("Starting up…"):
        from components.runtime import application_or_stop

        application_or_stop()  # starts the database and applies migrations once per process
    _application_built = True
    if not state.page_behaviour_delivered():
        # Marked now: after st.stop() a run can no longer write its state. The element mounts as it
        # arrives, and no page reruns itself before the tab has shown its first run.
        state.set_page_behaviour_delivered()
        with st.sidebar:
            add_page_behaviour()
    try:
        page.run()
    finally:  # also after st.stop() and st.rerun(), which end a run by raising
        freeze_what_imports_made()
