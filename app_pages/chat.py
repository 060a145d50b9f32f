"""Chat page: talk to a model; every turn is saved and survives reruns, reloads and restarts."""

import uuid

import streamlit as st

from components import send_priority, state
from components.action_notice import render_action_notice
from components.feedback import render_feedback
from components.frame import set_page_config
from components.markup import message_markdown, plain
from components.messages import render_messages, render_reply_footer, render_streaming_reply
from components.runtime import application_or_stop, current_user_or_stop
from components.session_list import render_session_list
from components.settings_panel import render_settings_form
from services.chat import ChatPage, PageQuery
from services.errors import SessionNotFound, TurnInProgress, UserError
from services.history import DELETE_UNDO_SECONDS
from services.replies import KEPT_FOR_LATER_MESSAGE
from services.text import parse_session_id
from services.views import (
    EffectiveModelSettings,
    MessageStatus,
    MessageView,
    Role,
    SessionSummary,
    SessionView,
)

app = application_or_stop()
user = current_user_or_stop(app.settings)
chat = app.chat
RECENT_CHATS = 20  # chats listed in the sidebar


def _page_query(chat_id: uuid.UUID | None) -> PageQuery:
    """How much of the page to read: the sidebar's chats, and as many messages as this tab shows."""
    return PageQuery(RECENT_CHATS, state.shown_messages(chat_id) if chat_id else state.MESSAGES_PER_STEP)


def _start_new_chat() -> None:
    state.set_current_session_id(None)
    st.query_params.clear()


def _stop_reply(request_id: uuid.UUID) -> None:
    chat.stop(user, request_id)
    buffer = app.runner.buffer_for(request_id)
    if buffer is not None:
        # Give the runner a moment to save what was written, so the next run shows it as stopped.
        buffer.wait(timeout=3)


def _open_chat(session_id: uuid.UUID) -> None:
    """The sidebar's click on a chat: it opens, and the URL names it (a bookmark, and a reload)."""
    state.set_current_session_id(session_id)
    st.query_params.clear()
    st.query_params["session"] = str(session_id)


def _ensure_session(session: SessionView | None) -> SessionView:
    if session is not None:
        return session
    created = chat.create_session(user)
    state.set_current_session_id(created.id)
    st.query_params["session"] = str(created.id)
    return created


def _refuse_link(error: UserError) -> None:
    """The URL names a chat this user cannot open (another's, deleted, or garbled): say so."""
    st.error(error.user_message)
    st.button("Start a new chat", on_click=_start_new_chat, type="primary")
    _show_submission_problems()
    st.stop()


def _show_submission_problems() -> None:
    for kind, text in submission_problems:
        if kind == "error":
            st.error(text, icon=":material/block:")
        else:
            st.warning(text, icon=":material/warning:")
    if refused_text is not None:
        with st.expander("Your message (not sent)", expanded=True):
            st.code(refused_text, language=None, wrap_lines=True)


# -- a new message: validated, then saved with its request before anything else is read -------------
submission_problems: list[tuple[str, str]] = []  # (kind, text), shown under the conversation
refused_text: str | None = None
submitted_request_id: uuid.UUID | None = None  # this run's new turn: its buffer needs no lookup
submitted_user_message_id: int | None = None
page_after_submit: ChatPage | None = None
# The box stays enabled while a reply streams, so the next message can be drafted; sending it
# before the reply ends shows it back, unsent (TurnInProgress), and the reply carries on.
prompt = st.chat_input("Message", key="chat-message")

# The chat the URL names, else the one this tab had open.
linked = st.query_params.get("session")
try:
    session_id = parse_session_id(linked) if linked else state.current_session_id()
except UserError as error:
    _refuse_link(error)

if prompt is not None:
    with send_priority.sending():
        try:
            # The service checks that the chat is this user's; a new chat is made with the message.
            # The page as it is after the submit is read on the submit's connection, once the model is called.
            result, page_after_submit = chat.submit_and_read_page(
                user,
                session_id,
                prompt,
                client_message_id=str(uuid.uuid4()),
                query=_page_query(session_id),
            )
            session_id = result.session_id
            submitted_request_id, submitted_user_message_id = result.request_id, result.user_message_id
            submission_problems += [("warning", notice) for notice in result.notices]
        except UserError as error:
            # Refused, so nothing was saved: the text is shown back, never lost.
            submission_problems.append(
                ("warning" if isinstance(error, TurnInProgress) else "error", error.user_message)
            )
            refused_text = prompt if prompt.strip() else None
    if submitted_request_id is not None:
        # Its turn is with the runner: the page is drawn once every message sent with it is too.
        send_priority.let_sends_go_first()


# -- one read of everything the page draws ---------------------------------------------------------------
def _read_page(chat_id: uuid.UUID | None) -> ChatPage:
    return chat.page(user, chat_id, _page_query(chat_id), look_for_open_request=submitted_request_id is None)


try:
    page = page_after_submit or _read_page(session_id)
except SessionNotFound as error:
    if linked:
        _refuse_link(error)
    state.set_current_session_id(None)  # the chat this tab had open was deleted elsewhere
    page = _read_page(None)
session = page.session
if session is not None:
    state.set_current_session_id(session.id)
    if st.query_params.get("session") != str(session.id):
        st.query_params["session"] = str(session.id)  # the URL is a bookmark for this chat

# -- sidebar: new chat, recent chats, this chat's model settings ---------------------------------------
st.sidebar.button("New chat", on_click=_start_new_chat, icon=":material/add:", width="stretch")


def _show_chat_actions(session_id: uuid.UUID) -> None:
    state.set_chat_actions_target(session_id)


def _close_chat_actions() -> None:
    """Close the actions dialog: forget its chat and run the whole page again (a rerun from inside a
    dialog reruns only the dialog)."""
    state.set_chat_actions_target(None)
    st.rerun()


def _delete_chat(summary: SessionSummary) -> None:
    app.history.delete(user, summary.id)
    was_open = state.current_session_id() == summary.id
    if was_open:
        state.set_current_session_id(None)  # a new chat opens in its place
        st.query_params.clear()
    state.set_action_notice(
        state.ActionNotice(f"Deleted {summary.title}", summary.id, undo="restore", reopen=was_open)
    )


@st.dialog("Chat actions", on_dismiss=lambda: state.set_chat_actions_target(None))
def _chat_actions(summary: SessionSummary) -> None:
    """One chat's actions, from its ⋯ button in the sidebar: rename, pin, archive, delete. Archive and
    delete happen at once; the notice they leave at the top of the page offers Undo."""
    with st.form(key=f"sidebar-rename-{summary.id}", border=False):
        new_title = st.text_input("Title", value=summary.title, max_chars=200)
        renamed = st.form_submit_button("Rename")
    try:
        if renamed:
            app.history.rename(user, summary.id, new_title)
            _close_chat_actions()
        if st.button(
            "Unpin" if summary.pinned else "Pin to the top",
            icon=":material/keep:",
            key=f"sidebar-pin-{summary.id}",
            width="stretch",
        ):
            app.history.set_pinned(user, summary.id, not summary.pinned)
            _close_chat_actions()
        if st.button(
            "Archive", icon=":material/archive:", key=f"sidebar-archive-{summary.id}", width="stretch"
        ):
            app.history.set_archived(user, summary.id, True)
            state.set_action_notice(
                state.ActionNotice(f"Archived {summary.title}", summary.id, undo="unarchive")
            )
            _close_chat_actions()
        if st.button(
            "Delete",
            icon=":material/delete:",
            key=f"sidebar-delete-{summary.id}",
            width="stretch",
            help=f"Deleted chats can be restored for {DELETE_UNDO_SECONDS // 60} minutes (Undo).",
        ):
            _delete_chat(summary)
            _close_chat_actions()
    except SessionNotFound:
        state.set_chat_actions_target(None)
        st.warning("This chat is no longer there (deleted in another tab). Close this and reload.")
    except UserError as error:
        st.error(error.user_message)


render_session_list(
    page.recent, current=session.id if session else None, on_open=_open_chat, on_actions=_show_chat_actions
)
actions_for = next((item for item in page.recent if item.id == state.chat_actions_target()), None)
if actions_for is not None:  # (a chat no longer listed has nothing to show)
    _chat_actions(actions_for)
effective = chat.effective_model_settings(session) if session else chat.default_model_settings()


@st.dialog("Model settings for this chat", on_dismiss=lambda: state.set_settings_open(False))
def _model_settings(session: SessionView | None, current: EffectiveModelSettings) -> None:
    """The chat's model, temperature, max tokens and system prompt, in a dialog: its widgets are
    built only while it is open, not on every run of the page (bench/load: as a sidebar form they
    were about a tenth of the server's time under load)."""
    change = render_settings_form(
        current, app.endpoints.choices(), key=f"settings-{session.id if session else 'new'}"
    )
    if change is None:
        return
    try:
        target = _ensure_session(session)
        chat.update_model_settings(
            user,
            target.id,
            endpoint=change.endpoint,
            temperature=change.temperature,
            max_tokens=change.max_tokens,
            system_prompt=change.system_prompt,
        )
    except UserError as error:  # settings out of range, or an endpoint this app may not use
        st.error(error.user_message)
        return
    state.set_settings_open(False)
    state.set_flash("Settings saved for this chat.")
    st.rerun()  # closes the dialog; the page runs again with the new settings


st.sidebar.button(
    "Model settings",
    icon=":material/tune:",
    key="model-settings",
    on_click=state.set_settings_open,
    args=(True,),
    width="stretch",
)
if state.settings_open():  # open until saved or dismissed, whatever reruns in between
    _model_settings(session, effective)
flash = state.pop_flash()
if flash:
    st.toast(flash, icon=":material/check_circle:")

# -- header: one line, with the chat's details in a small menu --------------------------------------
render_action_notice(app.history, user)  # archived or deleted just now: Undo
title = plain(session.title) if session else "New chat"
set_page_config(session.title if session else "New chat")  # (a tab's title is plain text)
model_client = app.models.client_for(effective.endpoint)
# A row that stays one row on a phone (columns would stack): the title, then the menu at the right.
with st.container(horizontal=True, vertical_alignment="center", wrap=False, gap="small"):
    st.subheader(title, anchor=False, width="stretch")
    details = st.popover("Details", icon=":material/info:", width="content")
with details:
    st.markdown(f"**Model:** {plain(effective.endpoint)}  \n{plain(model_client.label)}")
    if model_client.is_demo:
        st.caption(
            "To chat with a real model, set `DATABRICKS_HOST`, `DATABRICKS_TOKEN` and `LLM_ENDPOINT` "
            "(or `LLM_BASE_URL` for any OpenAI-compatible server) in `.env` and restart; see the README."
        )
    if session:
        st.markdown("**Chat id:**")
        st.code(str(session.id), language=None)
        st.page_link(
            "app_pages/history.py", label="Rename, pin or export in History", icon=":material/history:"
        )
    else:
        st.caption("A new chat is saved when you send its first message.")


def _unarchive(session_id: uuid.UUID) -> None:
    try:
        app.history.set_archived(user, session_id, False)
    except UserError as error:
        st.toast(error.user_message)
    else:
        st.toast("Chat moved back to your recent chats.", icon=":material/unarchive:")


if session and session.archived_at is not None:
    with st.container(border=True, horizontal=True, vertical_alignment="center", wrap=False):
        st.markdown(
            f":material/archive: This chat was archived on {session.archived_at:%d %b %Y}. It is not in "
            "your recent chats; you can still read it and carry on.",
            width="stretch",
        )
        st.button("Unarchive", on_click=_unarchive, args=(session.id,), key="unarchive-chat")
if model_client.is_demo and not state.demo_notice_dismissed():
    hint = app.models.configuration_hint()
    with st.container(border=True, horizontal=True, vertical_alignment="center", wrap=False):
        st.markdown(
            ":material/science: **Offline demo model**: replies are made up locally. "
            + (plain(hint) + " " if hint else "")
            + "**Details** says how to connect a real one.",
            width="stretch",
        )
        st.button(
            "Dismiss",
            icon=":material/close:",
            key="dismiss-demo-notice",
            on_click=state.dismiss_demo_notice,
            help="Hide this notice for the rest of this visit",
            type="tertiary",
        )


if session is None:
    _show_submission_problems()
    st.markdown("Ask anything to start. Your conversations are saved and listed in the sidebar.")
    st.stop()

# -- the conversation, as read above ---------------------------------------------------------------------
# The reply being written: the one this run just started (its buffer is at hand), else whatever
# request the chat had open when the page was read (a reload, another tab, another instance). A turn
# can end while the page reads, so its reply may already be among the messages: it is drawn once,
# from its buffer, and left out of the list.
open_request_id: uuid.UUID | None = None
answered_message_id: int | None = None
buffer = app.runner.buffer_for(submitted_request_id) if submitted_request_id else None
if buffer is not None:
    open_request_id, answered_message_id = submitted_request_id, submitted_user_message_id
elif page.open_request is not None:
    open_request_id, answered_message_id = page.open_request.id, page.open_request.user_message_id
    buffer = app.runner.buffer_for(page.open_request.id)
turn_running = open_request_id is not None  # no Regenerate while a reply is being written
messages, earlier, ratings = page.messages, page.earlier, page.ratings
# A new version of a reply (Regenerate, Retry): once it is written, the page draws itself again, so
# the version switcher shows with it.
redraw_after_reply = submitted_request_id is None and any(
    m.role == Role.ASSISTANT and answered_message_id is not None and m.id > answered_message_id
    for m in messages
)
if answered_message_id is not None:
    messages = [message for message in messages if message.id <= answered_message_id]


def _save_rating(message_id: int, rating: int | None, comment: str | None) -> None:
    try:
        app.feedback.rate(user, message_id, rating, comment)
    except UserError as error:
        st.toast(error.user_message)


def _regenerate() -> None:
    try:
        chat.retry(user, session.id)
    except UserError as error:
        st.toast(error.user_message)


def _feedback_under(message: MessageView) -> None:
    if message.status != MessageStatus.ERROR:
        render_feedback(message.id, ratings.get(message.id), _save_rating)
    is_latest = bool(messages) and message.id == messages[-1].id
    if is_latest and not turn_running and message.status == MessageStatus.COMPLETE:
        # A new version of the latest reply; the old one is kept, and "Version 1 of 2" shows it.
        st.button(
            "Regenerate",
            icon=":material/autorenew:",
            key=f"regenerate-{message.id}",
            on_click=_regenerate,
            type="tertiary",
            help="Ask the model again; this reply is kept as an earlier version.",
        )


latest_question_id = next(
    (m.id for m in reversed(messages) if m.role == Role.USER and not m.superseded), None
)


def _edit_question(message: MessageView) -> None:
    """Under the latest question: Edit, which opens a form to change it and send it again. The old
    question and its replies stay in the chat, collapsed; the model sees only the new one."""
    if message.id != latest_question_id:
        return  # (while its reply is written, sending an edit says to wait or press Stop)
    if state.editing_message() != message.id:
        st.button(
            "Edit",
            icon=":material/edit:",
            key=f"edit-{message.id}",
            on_click=state.set_editing_message,
            args=(message.id,),
            type="tertiary",
        )
        return
    with st.form(key=f"edit-form-{message.id}", border=False):
        edited = st.text_area("Edit your message", value=message.content, key=f"edit-text-{message.id}")
        with st.container(horizontal=True, gap="small"):
            send = st.form_submit_button("Send edited message", type="primary")
            cancel = st.form_submit_button("Cancel")
    if cancel:
        state.set_editing_message(None)
        st.rerun()
    if send:
        try:
            chat.submit_message(
                user, session.id, edited, client_message_id=str(uuid.uuid4()), replacing=message.id
            )
        except UserError as error:
            st.error(error.user_message)  # nothing changed; the edited text is still in the form
        else:
            state.set_editing_message(None)
            st.rerun()  # the next run finds the new request open and streams its reply


if earlier:
    st.button(
        f"Show {min(earlier, state.MESSAGES_PER_STEP)} earlier messages ({earlier:,} not shown)",
        on_click=state.show_earlier_messages,
        args=(session.id,),
        icon=":material/expand_less:",
        key=f"earlier-{session.id}",
    )
render_messages(messages, below_reply=_feedback_under, below_question=_edit_question)


@st.fragment(run_every=2)
def _follow_reply_written_elsewhere(request_id: uuid.UUID) -> None:
    """A reply another app process is writing (or one that just restarted): show its checkpoint,
    refreshed every two seconds, and redraw the page once it is finished."""
    current = chat.open_request(user, session.id)
    if current is None or current.id != request_id:
        st.rerun(scope="app")
    if current.partial_text:
        st.markdown(message_markdown(current.partial_text))
    st.caption(
        f"This reply is being written by another app instance (last saved "
        f"{current.seconds_since_activity:.0f} s ago); it updates here by itself."
    )


if open_request_id is not None:
    for _, problem in submission_problems:
        # Said at once: the full notice, with the text sent back, draws after the reply ends.
        st.toast(problem, icon=":material/warning:")
    with st.chat_message("assistant"):
        stop_slot = st.empty()
        stop_slot.button(
            "Stop",
            key=f"stop-{open_request_id}",
            on_click=_stop_reply,
            args=(open_request_id,),
            icon=":material/stop_circle:",
        )
        if buffer is not None:
            render_streaming_reply(buffer.stream_updates())
            stop_slot.empty()
            outcome = buffer.outcome
            if outcome is not None and outcome.error_message == KEPT_FOR_LATER_MESSAGE:
                # The database is unreachable: the reply waits in the outbox; say so, read nothing.
                st.warning(outcome.error_message, icon=":material/cloud_off:")
            else:
                # The runner saved the reply before closing the buffer: show its status and figures.
                turn_running = False
                if redraw_after_reply:
                    st.rerun()
                # The runner hands over the reply it stored; it is read back only if the runner has
                # none (stored by another path). Retry below looks at it as the chat's last message.
                stored = buffer.stored_reply
                messages = [stored] if stored else chat.latest_messages(user, session.id, limit=1)[0]
                render_reply_footer(messages[-1])
                _feedback_under(messages[-1])
        else:
            _follow_reply_written_elsewhere(open_request_id)
            _show_submission_problems()
            st.stop()

if (
    messages
    and (messages[-1].role == Role.USER or messages[-1].status != MessageStatus.COMPLETE)
    and st.button("Retry", icon=":material/refresh:", type="primary")
):
    try:
        chat.retry(user, session.id)
    except UserError as error:
        st.warning(error.user_message)
    else:
        st.rerun()

# A message refused while a reply was being written shows under that reply, by the message box.
_show_submission_problems()
