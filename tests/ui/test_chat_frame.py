"""The chat page's frame, driven with AppTest: the sidebar list (date groups, the open chat marked,
a filter), the URL in step with the open chat, the compact header, and its notices."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from sqlalchemy import text

from components import frame, heap, send_priority
from components.runtime import cached_application
from services.chat import ChatService
from services.config import get_settings
from services.views import User
from tests.seed import add_session
from tests.ui.conftest import CHAT_PAGE
from tests.ui.test_pages import demo_notice_shown, send

pytestmark = pytest.mark.ui

DEVELOPER = "developer@localhost"
DATE_GROUPS = {"Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older"}


@pytest.fixture
def seed(open_app):
    open_app()
    transactions = cached_application(get_settings()).transactions

    titles_seeded: list[str] = []

    def _seed(title: str, *, days_ago: int = 0) -> str:
        # Noon of that day (UTC, the zone AppTest reports): the groups hold whatever the clock says.
        noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        updated = noon - timedelta(days=days_ago, minutes=len(titles_seeded))
        titles_seeded.append(title)
        return str(add_session(transactions, DEVELOPER, title, ["a question", "an answer"], updated=updated))

    return _seed


def sidebar_entries(app) -> list[tuple[str, str]]:
    """The sidebar's date headings and chat buttons in order, as ("heading"|"chat"|"open", text)."""
    entries = []
    for element in app.sidebar:
        if element.type == "caption" and element.value in DATE_GROUPS:
            entries.append(("heading", element.value))
        elif element.type == "button" and str(element.key).startswith("open-"):
            entries.append(("open" if element.proto.type == "secondary" else "chat", element.label))
    return entries


def test_the_sidebar_groups_chats_by_date_and_marks_the_open_one(open_app, seed) -> None:
    today = seed("Written today")
    seed("Written yesterday", days_ago=1)
    seed("Written last month", days_ago=40)
    app = open_app(CHAT_PAGE, session=today)
    assert sidebar_entries(app) == [
        ("heading", "Today"),
        ("open", "Written today"),
        ("heading", "Yesterday"),
        ("chat", "Written yesterday"),
        ("heading", "Older"),
        ("chat", "Written last month"),
    ]


def test_opening_a_chat_from_the_sidebar_puts_it_in_the_url(open_app, seed) -> None:
    first = seed("First chat")
    second = seed("Second chat", days_ago=2)
    app = open_app(CHAT_PAGE, session=first)
    app.sidebar.button(key=f"open-{second}").click().run()
    assert not app.exception
    assert app.query_params["session"] == second  # a reload or bookmark opens the same chat
    assert app.subheader[0].value == "Second chat"
    assert ("open", "Second chat") in sidebar_entries(app)


def test_the_filter_narrows_the_list_and_points_to_history_when_nothing_matches(open_app, seed) -> None:
    seed("Trip to Lisbon")
    seed("Quarterly numbers")
    app = open_app(CHAT_PAGE)
    app.sidebar.text_input(key="session-list-filter").input("lisbon").run()
    assert [text for kind, text in sidebar_entries(app) if kind != "heading"] == ["Trip to Lisbon"]
    app.sidebar.text_input(key="session-list-filter").input("no such words").run()
    assert sidebar_entries(app) == []
    assert any("History searches every message" in caption.value for caption in app.sidebar.caption)


def test_long_titles_end_with_an_ellipsis_at_a_word(open_app, seed) -> None:
    seed("A rather long title about the planning of the next offsite in the mountains")
    app = open_app(CHAT_PAGE)
    label = next(text for kind, text in sidebar_entries(app) if kind == "chat")
    assert label == "A rather long title about the…"


def test_saving_settings_on_a_new_chat_lists_no_empty_chat(open_app) -> None:
    app = open_app(CHAT_PAGE)
    app.sidebar.button(key="model-settings").click().run()
    app.slider(key="settings-new-temperature").set_value(0.2)
    app.button(key="FormSubmitter:settings-new-form-Save settings").click().run()
    assert not app.exception
    assert [toast.value for toast in app.toast] == ["Settings saved for this chat."]
    assert not app.slider  # the dialog closed
    assert sidebar_entries(app) == []  # the chat has settings but no message yet
    send(app, "Now it has one")
    assert [text for kind, text in sidebar_entries(app) if kind != "heading"] == ["Now it has one"]


def test_the_demo_notice_can_be_dismissed_for_the_visit(open_app) -> None:
    app = open_app(CHAT_PAGE)
    assert demo_notice_shown(app)
    app.button(key="dismiss-demo-notice").click().run()
    assert not demo_notice_shown(app)
    send(app, "Still gone?")
    assert not demo_notice_shown(app)


def test_an_archived_chat_opened_by_url_says_so_and_can_be_unarchived(open_app, seed) -> None:
    archived = seed("Old project")
    cached_application(get_settings()).history.set_archived(User(DEVELOPER), uuid.UUID(archived), True)
    app = open_app(CHAT_PAGE, session=archived)
    assert any("This chat was archived" in block.value for block in app.markdown)
    assert ("open", "Old project") not in sidebar_entries(app)
    app.button(key="unarchive-chat").click().run()
    assert not any("This chat was archived" in block.value for block in app.markdown)
    assert ("open", "Old project") in sidebar_entries(app)


def test_every_chat_in_the_sidebar_has_its_actions(open_app, seed, clean_db) -> None:
    chat = seed("Old name")
    other = seed("Another chat", days_ago=3)
    app = open_app(CHAT_PAGE, session=chat)
    # Not only the open chat: the other one's ⋯ opens its own actions.
    app.sidebar.button(key=f"actions-{other}").click().run()
    app.button(key=f"sidebar-pin-{other}").click().run()
    assert sidebar_entries(app)[:2] == [("heading", "Pinned"), ("chat", "Another chat")]
    assert f"sidebar-pin-{other}" not in [b.key for b in app.button]  # the dialog closed

    app.sidebar.button(key=f"actions-{chat}").click().run()
    title = next(t for t in app.text_input if t.label == "Title")
    title.set_value("New name")
    next(b for b in app.get("form_submit_button") if b.proto.label == "Rename").click()
    app.run()
    assert app.subheader[0].value == "New name"

    app.sidebar.button(key=f"actions-{chat}").click().run()
    app.button(key=f"sidebar-delete-{chat}").click().run()
    assert not app.exception
    assert "session" not in app.query_params  # a new chat is open in its place
    assert [text_ for kind, text_ in sidebar_entries(app) if kind != "heading"] == ["Another chat"]
    assert any("Deleted New name" in block.value for block in app.markdown)

    # Undo brings it back, open, as it was.
    app.button(key="action-notice-undo").click().run()
    assert app.query_params["session"] == chat
    assert ("open", "New name") in sidebar_entries(app)
    with clean_db.connect() as connection:
        deleted = connection.execute(text("SELECT count(*) FROM chat_session WHERE deleted_at IS NOT NULL"))
        assert deleted.scalar() == 0


def test_a_deleted_chat_is_removed_for_good_once_its_undo_time_is_over(open_app, seed, clean_db) -> None:
    chat = seed("Short-lived")
    app = open_app(CHAT_PAGE, session=chat)
    app.sidebar.button(key=f"actions-{chat}").click().run()
    app.button(key=f"sidebar-delete-{chat}").click().run()
    history = cached_application(get_settings()).history
    assert history.purge_deleted() == 0  # still within its undo time
    with clean_db.connect() as connection:
        connection.execute(text("UPDATE chat_session SET deleted_at = deleted_at - interval '11 minutes'"))
        connection.commit()
    app.button(key="action-notice-undo").click().run()
    assert any("cannot be restored" in toast.value for toast in app.toast)
    assert history.purge_deleted() == 1
    with clean_db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM chat_message")).scalar() == 0


def test_a_page_run_that_imported_modules_freezes_what_they_made(open_app, monkeypatch) -> None:
    """The frame hands over to components.heap after the page, also when the page ends in st.stop()
    (a new chat's page does)."""
    monkeypatch.setattr(heap, "_modules_at_last_freeze", 0)  # as if this run had imported them all
    open_app(CHAT_PAGE)
    assert heap._modules_at_last_freeze == len(sys.modules)


def test_every_run_navigates_with_its_own_copies_of_the_menu_pages(open_app, monkeypatch) -> None:
    """The menu's pages are made once per process, and every run hands st.navigation copies: it
    marks the page it returns as allowed to run, and a run clears that mark, so a page object
    shared by two tabs could be cleared by one while the other is about to run it."""
    handed: list[list[object]] = []
    navigation = st.navigation

    def recording_navigation(pages, **options):
        handed.append(list(pages))
        return navigation(pages, **options)

    monkeypatch.setattr(st, "navigation", recording_navigation)
    open_app(CHAT_PAGE)
    open_app(CHAT_PAGE)  # another tab
    templates = frame._menu_pages(is_admin=False)
    assert len(handed) == 2
    for pages in handed:
        assert [page._page for page in pages] == [template._page for template in templates]
        assert not any(page is template for page, template in zip(pages, templates, strict=True))
    assert not set(map(id, handed[0])) & set(map(id, handed[1]))
    assert not any(template._can_be_called for template in templates)


def page_behaviour_sent(app) -> bool:
    return any(
        element.type == "html" and "__chatAppBehaviour" in element.proto.body for element in app.sidebar
    )


def test_a_tab_is_sent_the_page_behaviour_once(open_app) -> None:
    """The browser-side behaviour (components.page_behaviour) sets itself up in the tab's document and
    stays there: the tab's first run carries it, later runs do without it, and a new tab gets it."""
    app = open_app(CHAT_PAGE)
    assert page_behaviour_sent(app)
    send(app, "Hello there")
    assert not page_behaviour_sent(app.run())
    assert page_behaviour_sent(open_app(CHAT_PAGE))


def test_settings_the_app_cannot_run_with_are_shown_in_its_frame(open_app, app_env) -> None:
    """The frame refuses to serve, and says why, before anything else runs."""
    app_env.setenv("MAX_TURNS_PER_MINUTE_PER_USER", "many")
    get_settings.cache_clear()
    app = open_app(CHAT_PAGE)
    assert not app.exception
    assert len(app.error) == 1
    assert "MAX_TURNS_PER_MINUTE_PER_USER" in app.error[0].value
    assert not app.chat_input  # nothing of the page ran


def test_a_run_that_sends_counts_as_sending_until_its_model_call_is_out(open_app, monkeypatch) -> None:
    """components.send_priority: the chat page holds other runs' drawing while it submits, and draws
    its own page only after waiting for theirs; a refused message does not wait."""
    seen: list[str] = []
    submit = ChatService.submit_and_read_page

    def recording_submit(*args: object, **kwargs: object):
        seen.append(f"submit while {send_priority.runs_sending()} sending")
        return submit(*args, **kwargs)

    monkeypatch.setattr(ChatService, "submit_and_read_page", recording_submit)
    monkeypatch.setattr(send_priority, "let_sends_go_first", lambda: seen.append("waited") or True)
    app = open_app(CHAT_PAGE)
    send(app, "Hello there")
    assert seen == ["submit while 1 sending", "waited"]
    assert send_priority.runs_sending() == 0
    seen.clear()
    send(app, "x" * (get_settings().max_message_chars + 1))  # refused: too long
    assert seen == ["submit while 1 sending"]
    assert app.error or app.warning
