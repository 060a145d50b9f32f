"""Landing page: a greeting, this week's figures, recent chats and a button to start one."""

import streamlit as st

from components import state
from components.markup import plain
from components.runtime import application_or_stop, current_user_or_stop
from components.session_list import CHAT_PAGE, short_title

app = application_or_stop()
user = current_user_or_stop(app.settings)
dashboard = app.chat.dashboard(user, recent=5)

st.title(f"Hello, {plain(user.display_name)}")
st.caption(f"Signed in as {plain(user.email)} · data in {plain(app.database_description)}")

sessions_column, messages_column, model_column = st.columns(3)
sessions_column.metric("Chats active this week", dashboard.sessions_this_week)
messages_column.metric("Messages sent this week", dashboard.messages_this_week)
# A metric's value is shown as plain text by Streamlit itself.
model_column.metric("Model in use", app.models.default_endpoint, help=app.models.default_label, border=False)

if st.button("Start a new chat", type="primary", icon=":material/add_comment:"):
    state.set_current_session_id(None)
    st.switch_page(CHAT_PAGE)

st.subheader("Recent chats")
if not dashboard.recent_sessions:
    st.caption("No chats yet. Start one and it appears here.")
for summary in dashboard.recent_sessions:
    st.page_link(
        CHAT_PAGE,
        # Short enough for a phone's width: the title (cut at a word) and the day.
        label=f"{plain(short_title(summary.title, 40))} · {summary.updated_at:%d %b}",
        help=f"{summary.message_count} messages · last active {summary.updated_at:%d %b %Y %H:%M}",
        query_params={"session": str(summary.id)},
        icon=":material/chat_bubble:",
    )
