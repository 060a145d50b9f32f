"""History page: find, reopen, tidy, export and import every past conversation."""

import contextlib
from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from components import state
from components.action_notice import render_action_notice
from components.history_list import item_caption, snippet_markdown
from components.markup import plain
from components.runtime import application_or_stop, current_user_or_stop
from components.session_list import CHAT_PAGE
from services.chat_files import EXPORT_CHATS_PER_PART, export_file_name
from services.errors import SessionNotFound, UserError
from services.history import (
    DELETE_UNDO_SECONDS,
    ArchiveFilter,
    HistoryItem,
    SessionFilters,
)
from services.views import User

app = application_or_stop()
user = current_user_or_stop(app.settings)
history = app.history
files = app.files

ARCHIVE_CHOICES = {
    "Active": ArchiveFilter.ACTIVE,
    "Archived": ArchiveFilter.ARCHIVED,
    "All": ArchiveFilter.ALL,
}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@st.cache_data(ttl=60, max_entries=256, show_spinner=False)
def _exportable_chats(email: str) -> int:
    """How many chats "export all" covers; only sizes its parts, so a minute-old count is fine
    (and it is dropped at once after an import or a delete here)."""
    return files.count_exportable(User(email))


def _forget_pending_delete() -> None:
    state.set_pending_delete(None)


@st.dialog("Delete this chat?", on_dismiss=_forget_pending_delete)
def _confirm_delete(item: HistoryItem) -> None:
    st.write(
        f"**{plain(item.title)}** and all its messages will be deleted. You can undo this for "
        f"{DELETE_UNDO_SECONDS // 60} minutes."
    )
    delete_column, cancel_column = st.columns(2)
    if delete_column.button("Delete", type="primary", key="confirm-delete"):
        with contextlib.suppress(SessionNotFound):  # already gone: the list no longer shows it
            history.delete(user, item.id)
            _exportable_chats.clear()
        state.set_pending_delete(None)
        state.set_selected_history_session(None)
        state.set_action_notice(state.ActionNotice(f"Deleted {item.title}", item.id, undo="restore"))
        if state.current_session_id() == item.id:
            state.set_current_session_id(None)
        st.rerun()
    if cancel_column.button("Cancel", key="cancel-delete"):
        state.set_pending_delete(None)
        st.rerun()


def _manage_panel(item: HistoryItem) -> None:
    """Rename, pin, archive, export and delete one chat."""
    with st.form(key=f"rename-{item.id}", border=False):
        new_title = st.text_input("Title", value=item.title, max_chars=200)
        if st.form_submit_button("Rename"):
            try:
                history.rename(user, item.id, new_title)
                st.rerun()
            except UserError as error:
                st.error(error.user_message)
    pin_column, archive_column, delete_column = st.columns(3)
    if pin_column.button("Unpin" if item.pinned else "Pin", key=f"pin-{item.id}", icon=":material/keep:"):
        history.set_pinned(user, item.id, not item.pinned)
        st.rerun()
    archive_label = "Unarchive" if item.archived else "Archive"
    if archive_column.button(archive_label, key=f"archive-{item.id}", icon=":material/archive:"):
        history.set_archived(user, item.id, not item.archived)
        state.set_selected_history_session(None)
        done = "Archived" if not item.archived else "Moved back to your chats:"
        state.set_action_notice(
            state.ActionNotice(
                f"{done} {item.title}", item.id, undo="archive" if item.archived else "unarchive"
            )
        )
        st.rerun()
    if delete_column.button("Delete…", key=f"delete-{item.id}", icon=":material/delete:"):
        state.set_pending_delete(item.id)
    markdown_column, json_column = st.columns(2)
    markdown_column.download_button(
        "Export Markdown",
        data=files.export_markdown(user, item.id),
        file_name=export_file_name(item.title, "md"),
        mime="text/markdown",
        key=f"export-md-{item.id}",
        on_click="ignore",
    )
    json_column.download_button(
        "Export JSON",
        data=files.export_json(user, item.id),
        file_name=export_file_name(item.title, "json"),
        mime="application/json",
        key=f"export-json-{item.id}",
        on_click="ignore",
    )


def _render_item(item: HistoryItem) -> None:
    selected = state.selected_history_session() == item.id
    with st.container(border=True):
        text_column, open_column, manage_column = st.columns([6, 1, 1.3], vertical_alignment="center")
        pin = ":material/keep: " if item.pinned else ""
        text_column.markdown(f"##### {pin}{plain(item.title)}")
        text_column.caption(item_caption(item))
        snippet = snippet_markdown(item)
        if snippet:
            text_column.markdown(snippet)
        if open_column.button("Open", key=f"open-{item.id}", width="stretch"):
            state.set_current_session_id(item.id)
            st.switch_page(CHAT_PAGE, query_params={"session": str(item.id)})
        if manage_column.button("Close" if selected else "Manage", key=f"manage-{item.id}", width="stretch"):
            state.set_selected_history_session(None if selected else item.id)
            st.rerun()
        if selected:
            _manage_panel(item)
    if state.pending_delete() == item.id:
        _confirm_delete(item)


# -- search and filters -----------------------------------------------------------------------------
st.title("History")
query = st.text_input(
    "Search your chats",
    placeholder='Words, "an exact phrase", -excluded',
    key="history-query",
    help="Searches titles and every message. Quotes match a phrase; a leading minus excludes a word.",
)
with st.expander("Filters"):
    range_column, model_column, archive_column = st.columns(3)
    today = datetime.now(UTC).date()
    chosen_range = range_column.date_input(
        "Last activity between", value=(), max_value=today, key="history-dates", format="YYYY-MM-DD"
    )
    models = history.models_used(user)
    model_choice = model_column.selectbox("Model", ["All models", *models], key="history-model")
    archive_choice = archive_column.segmented_control(
        "Show", list(ARCHIVE_CHOICES), default="Active", key="history-archived"
    )

updated_from = updated_before = None
if isinstance(chosen_range, tuple) and len(chosen_range) >= 1:
    updated_from = _day_start(chosen_range[0])
    updated_before = _day_start(
        (chosen_range[1] if len(chosen_range) == 2 else chosen_range[0]) + timedelta(days=1)
    )
filters = SessionFilters(
    archived=ARCHIVE_CHOICES.get(archive_choice or "Active", ArchiveFilter.ACTIVE),
    model=None if model_choice == "All models" else model_choice,
    updated_from=updated_from,
    updated_before=updated_before,
)

# -- results --------------------------------------------------------------------------------------


render_action_notice(history, user)

try:
    results = history.search(user, query, filters) if query.strip() else None
except UserError as error:
    st.warning(error.user_message)
    results = None
if results is not None:
    st.caption(
        f"{len(results)} chat{'s' if len(results) != 1 else ''} match" + ("es" if len(results) == 1 else "")
    )
    if not results:
        st.info("No chat matches. Try fewer or other words, or change the filters.")
    for item in results:
        _render_item(item)
else:
    if query.strip():
        st.caption("That search has no words to look for, so here are all your chats.")
    cursors = state.history_cursors(f"{filters}")
    page = history.list_page(user, filters, after=cursors[-1])
    if not page.pinned and not page.items:
        st.info("No chats here yet." if len(cursors) == 1 else "No more chats.")
    for item in page.pinned + page.items:
        _render_item(item)
    previous_column, page_column, next_column = st.columns([1, 2, 1])
    if len(cursors) > 1 and previous_column.button("← Newer", key="history-newer"):
        cursors.pop()
        st.rerun()
    if len(cursors) > 1 or page.next_cursor is not None:  # "Page 1" of one page says nothing
        page_column.caption(f"Page {len(cursors)}")
    if page.next_cursor is not None and next_column.button("Older →", key="history-older"):
        cursors.append(page.next_cursor)
        st.rerun()

# -- export everything, import one -------------------------------------------------------------------
st.divider()
export_column, import_column = st.columns(2)
with export_column:
    st.subheader("Export all")
    st.caption("Every chat as JSON Lines: one chat per line, in the same format as Export JSON.")
    total = _exportable_chats(user.email)
    parts = max(1, -(-total // EXPORT_CHATS_PER_PART))
    part = 0
    if parts > 1:
        part = st.selectbox(
            f"Your {total:,} chats come in {parts} parts of up to {EXPORT_CHATS_PER_PART} (oldest first)",
            range(parts),
            format_func=lambda index: (
                f"Part {index + 1}: chats {index * EXPORT_CHATS_PER_PART + 1:,}"
                f"-{min(total, (index + 1) * EXPORT_CHATS_PER_PART):,}"
            ),
            key="export-part",
        )
    st.download_button(
        "Download all chats (.jsonl)" if parts == 1 else f"Download part {part + 1} (.jsonl)",
        data=lambda: "".join(files.export_all_jsonl(user, part=part)),
        file_name="chats.jsonl" if parts == 1 else f"chats-part-{part + 1}-of-{parts}.jsonl",
        mime="application/jsonl",
        on_click="ignore",
        key="export-all",
    )
with import_column:
    st.subheader("Import")
    # A new uploader key after each import empties it, so the same file cannot be imported twice
    # by another click; the page then reruns, and the new chat is in the list at once.
    uploaded = st.file_uploader(
        "A chat exported as JSON from this app", type=["json"], key=f"import-file-{state.import_round()}"
    )
    if uploaded is not None and st.button("Import chat", key="import-button"):
        try:
            imported = files.import_json(user, uploaded.getvalue())
        except UserError as error:
            st.error(error.user_message)
        else:
            _exportable_chats.clear()
            state.next_import_round()
            state.set_action_notice(state.ActionNotice("Imported. The chat is at the top of the list.", None))
            state.set_selected_history_session(imported)
            st.rerun()
