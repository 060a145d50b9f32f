"""The frame around every page: page config, settings, the current user and the navigation menu.

Home.py runs the frame, which then runs the chosen page. One Streamlit behaviour needs care: on the
first script run after the server starts, a folder named `pages/` makes Streamlit draw its automatic
(legacy) menu of that folder and run the page script directly, without Home.py. Each page therefore
calls `ensure_frame()` first, which runs the page through the frame when Home.py did not.
"""

from __future__ import annotations

import sys
import threading

import streamlit as st
from streamlit.navigation.page import StreamlitPage

# Per script-run thread (each browser session's script runs in its own thread): whether Home.py is
# running the current page. Thread-local, so no user ever sees another's value.
_frame_state = threading.local()


def _menu(*, is_admin: bool) -> StreamlitPage:
    # Pages that are not in the menu stay reachable by URL, and refuse whoever may not use them.
    admin_visibility = "visible" if is_admin else "hidden"
    return st.navigation(
        [
            st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
            st.Page("pages/chat.py", title="Chat", icon=":material/chat:", url_path="chat"),
            st.Page("pages/history.py", title="History", icon=":material/history:", url_path="history"),
            st.Page(
                "pages/admin.py",
                title="Admin",
                icon=":material/monitoring:",
                url_path="admin",
                visibility=admin_visibility,
            ),
            st.Page(
                "pages/admin_conversation.py",
                title="Conversation (read-only)",
                icon=":material/visibility:",
                url_path="admin_conversation",  # the file name: see ensure_frame
                visibility="hidden",
            ),
        ]
    )


def _navigation() -> StreamlitPage:
    st.set_page_config(page_title="Chat", page_icon=":material/forum:", layout="wide")
    cold_process = "components.access" not in sys.modules
    if cold_process:
        # First run in this server process: importing settings takes a moment, and Streamlit's
        # automatic menu is already on screen. Replace it at once with the menu everyone sees;
        # an admin's entry is added below, once the user is known.
        page = _menu(is_admin=False)
    from components.access import current_user_or_stop, settings_or_stop

    user = current_user_or_stop(settings_or_stop())
    if user.is_admin or not cold_process:
        page = _menu(is_admin=user.is_admin)
    # The runtime pulls in the database and model libraries: imported only after the menu is out.
    from components.runtime import application_or_stop

    application_or_stop()  # starts the database and applies migrations once per process
    return page


def run_frame() -> None:
    """Home.py's body: draw the navigation, then run the page the URL asks for."""
    page = _navigation()
    _frame_state.inside_frame = True
    try:
        page.run()
    finally:
        _frame_state.inside_frame = False


def ensure_frame() -> None:
    """First call of every page script: if Home.py did not run this page, run it through the frame.

    The frame declares the real navigation (which switches Streamlit off its pages/ behaviour for
    good) and runs this page again as the real page, so that its widgets carry the real page's
    identity: widgets drawn under the automatic page would drop what the user types into them on
    the next run. Then this outer run ends.
    """
    if not getattr(_frame_state, "inside_frame", False):
        run_frame()
        st.stop()
