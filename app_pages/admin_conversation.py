"""An admin's read-only view of any user's conversation. Each view is recorded in the audit log."""

import streamlit as st

from components import state
from components.markup import plain
from components.messages import render_messages
from components.runtime import application_or_stop, current_user_or_stop
from services.admin import ReplyRating
from services.errors import NotAnAdmin, UserError
from services.text import parse_session_id
from services.views import MessageView

app = application_or_stop()
user = current_user_or_stop(app.settings)
if not user.is_admin:
    st.error(NotAnAdmin.user_message, icon=":material/lock:")
    st.page_link("app_pages/chat.py", label="Back to your chats", icon=":material/chat:")
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
# The reply the admin came from (a thumbs down on the Admin page) is marked, and every rating shows
# under the reply it rates, with its comment.
highlighted = st.query_params.get("reply")
ratings_by_reply: dict[int, list[ReplyRating]] = {}
for rating in conversation.ratings:
    ratings_by_reply.setdefault(rating.message_id, []).append(rating)


def _ratings_under(message: MessageView) -> None:
    for rating in ratings_by_reply.get(message.id, []):
        verdict = "Thumbs up" if rating.rating > 0 else "Thumbs down"
        text = f"**{verdict}** from {plain(rating.user_id)}" + (
            f": {plain(rating.comment)}" if rating.comment else " (no comment)"
        )
        if str(message.id) == highlighted:
            st.warning(text + "  \n:material/arrow_upward: The reply you opened from the Admin page.")
        else:
            st.caption(text)


render_messages(conversation.messages, below_reply=_ratings_under)
st.page_link("app_pages/admin.py", label="Back to Admin", icon=":material/arrow_back:")
