"""An admin's read-only view of any user's conversation. Each view is recorded in the audit log."""

import streamlit as st

from components import state
from components.markup import plain
from components.messages import render_messages
from components.runtime import application_or_stop, current_user_or_stop
from services.errors import NotAnAdmin, UserError
from services.text import parse_session_id

app = application_or_stop()
user = current_user_or_stop(app.settings)
if not user.is_admin:
    st.error(NotAnAdmin.user_message, icon=":material/lock:")
    st.stop()

try:
    session_id = parse_session_id(st.query_params.get("session"))
    # One audit row per conversation opened, not one per rerun of this page.
    conversation = app.admin.view_session(user, session_id, record=state.first_admin_view(session_id))
except UserError as error:
    st.error(error.user_message)
    st.page_link("app_pages/admin.py", label="Back to Admin", icon=":material/arrow_back:")
    st.stop()

st.title(plain(conversation.title))
st.info(
    f"Read-only view of **{plain(conversation.owner_id)}**'s conversation. "
    "Your view is recorded in the audit log; "
    "nothing can be written here.",
    icon=":material/visibility:",
)
st.caption(f"Session {conversation.session_id} · model {plain(conversation.model_endpoint or 'default')}")
render_messages(conversation.messages)
st.page_link("app_pages/admin.py", label="Back to Admin", icon=":material/arrow_back:")
