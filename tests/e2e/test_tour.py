"""A tour of the app in Chromium, at desktop and phone sizes, as a new user takes it (issue 13): a chat
mid-stream and finished, the URL that keeps it, History with a search, the admin dashboard, and an
axe-core audit of every page that fails on any serious or critical violation.

Screenshots of every step are kept in .data/screenshots/tour/ as test artifacts; the desktop ones the
README shows are written to docs/screenshots/, so the README always shows what this suite saw.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from services.chat_files import ChatFiles
from services.views import User
from tests.conftest import PROJECT_ROOT
from tests.e2e.test_browser import wait_until_idle
from tests.seed import add_session

pytestmark = pytest.mark.e2e

DEVELOPER = "developer@localhost"
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
ARTIFACTS = PROJECT_ROOT / ".data" / "screenshots" / "tour"
README_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
AXE = PROJECT_ROOT / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# The sidebar is on screen (on a phone it slides in over the page, from the left edge).
DRAWER_IS_OPEN = """() => {
  const box = document.querySelector('[data-testid="stSidebar"]').getBoundingClientRect();
  return box.width > 0 && box.right > 0;
}"""
# Whether the first table on the page (the models table) shows every column without scrolling.
MODELS_TABLE_FITS = """() => {
  const frame = document.querySelector('[data-testid="stDataFrame"]');
  const scroller = frame.querySelector('.dvn-scroller') || frame;
  return scroller.scrollWidth <= scroller.clientWidth + 1;
}"""
# Slow enough to photograph a reply while it streams, fast enough for a short test.
STREAMING_SETTINGS = {"DEMO_FIRST_TOKEN_DELAY_SECONDS": "0.3", "DEMO_WORD_DELAY_SECONDS": "0.08"}


def shoot(page, name: str, *, readme: str | None = None) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if readme is not None:
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SCREENSHOTS / f"{readme}.png"))


def show_sidebar(page, size: str) -> None:
    """On a phone the sidebar is a drawer, closed at first: open it (on a desktop it is already open)."""
    if size == "phone":
        page.get_by_test_id("stExpandSidebarButton").click()


def open_page(browser, url: str, size: str):
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone")
    page = context.new_page()
    page.goto(url)
    return context, page


def seed_chats(engine) -> dict[str, uuid.UUID]:
    transactions = sessionmaker(bind=engine)
    now = datetime.now(UTC)
    chats = {
        "Lisbon weekend": ["Plan a weekend in Lisbon", "Day one: **Alfama** and the castle..."],
        "Quarterly revenue summary": ["Summarise the quarter's revenue", "Revenue grew 12% over..."],
        "Unit tests for the parser": ["How do I test the date parser?", "Use `pytest.mark.parametrize`..."],
    }
    return {
        title: add_session(transactions, DEVELOPER, title, messages, updated=now - timedelta(days=index * 3))
        for index, (title, messages) in enumerate(chats.items())
    }


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_chat_streams_keeps_its_url_and_survives_a_reload(streamlit_app, browser, clean_db, size) -> None:
    app = streamlit_app(**STREAMING_SETTINGS)
    context, page = open_page(browser, f"{app.url}/chat", size)
    try:
        wait_until_idle(page)
        if size == "phone":
            # The menu is a drawer on a phone: closed, so the chat has the whole screen.
            assert not page.evaluate(DRAWER_IS_OPEN)
        page.get_by_placeholder("Message").fill("Plan a three-day trip to Lisbon")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Stop").wait_for(timeout=20_000)
        page.get_by_test_id("stChatMessage").nth(1).get_by_text("You wrote").wait_for(timeout=20_000)
        shoot(page, f"chat-streaming-{size}", readme="chat" if size == "desktop" else None)
        page.get_by_role("button", name="Stop").wait_for(state="detached", timeout=60_000)
        wait_until_idle(page)
        shoot(page, f"chat-finished-{size}")
        assert "?session=" in page.url
        assert page.title().startswith("Plan a three-day trip")
        page.reload()
        wait_until_idle(page)
        messages = page.get_by_test_id("stChatMessage")
        messages.first.get_by_text("Plan a three-day trip to Lisbon").wait_for(timeout=20_000)
        assert page.get_by_test_id("stChatMessage").count() == 2
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_opening_a_chat_from_the_sidebar_keeps_it_in_the_url(streamlit_app, browser, clean_db, size) -> None:
    chats = seed_chats(clean_db)
    app = streamlit_app()
    context, page = open_page(browser, f"{app.url}/chat", size)
    try:
        wait_until_idle(page)
        show_sidebar(page, size)
        page.get_by_role("button", name="Quarterly revenue summary", exact=True).click()
        page.wait_for_url(f"**/chat?session={chats['Quarterly revenue summary']}", timeout=20_000)
        wait_until_idle(page)
        if size == "phone":  # the drawer closes once a chat is chosen in it
            page.wait_for_function(f"() => !({DRAWER_IS_OPEN})()", timeout=10_000)
        shoot(page, f"sidebar-opened-chat-{size}")
        page.reload()
        wait_until_idle(page)
        page.get_by_text("Summarise the quarter's revenue").wait_for(timeout=20_000)
    finally:
        context.close()


def test_history_search_finds_a_chat(streamlit_app, browser, clean_db) -> None:
    seed_chats(clean_db)
    app = streamlit_app()
    for size in SIZES:
        context, page = open_page(browser, f"{app.url}/history", size)
        try:
            search = page.get_by_placeholder('Words, "an exact phrase", -excluded')
            search.wait_for(timeout=30_000)
            search.fill("revenue")
            page.keyboard.press("Enter")
            page.get_by_text("Quarterly revenue summary").first.wait_for(timeout=20_000)
            page.wait_for_timeout(500)
            shoot(page, f"history-search-{size}", readme="history" if size == "desktop" else None)
        finally:
            context.close()


def test_the_admin_dashboard(streamlit_app, browser, clean_db) -> None:
    seed_chats(clean_db)
    app = streamlit_app(ADMIN_USERS=DEVELOPER)
    for size in SIZES:
        context, page = open_page(browser, f"{app.url}/admin", size)
        try:
            page.get_by_text("Active users, last 30 days").wait_for(timeout=30_000)
            page.wait_for_timeout(1500)  # the charts draw after the page's text
            shoot(page, f"admin-{size}", readme="admin" if size == "desktop" else None)
            page.screenshot(path=str(ARTIFACTS / f"admin-whole-page-{size}.png"), full_page=True)
            if size == "desktop":  # the models table fits a laptop screen: no sideways scrolling
                models = page.get_by_test_id("stDataFrame").first
                models.wait_for(timeout=10_000)
                assert page.evaluate(MODELS_TABLE_FITS)
        finally:
            context.close()


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.1 A and AA)."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
    )
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "where": [node["target"] for node in violation["nodes"][:5]],
            "why": violation["nodes"][0].get("failureSummary", ""),
        }
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_no_page_has_a_serious_accessibility_violation(streamlit_app, browser, clean_db, size) -> None:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run_tests.sh installs it from the npm registry")
    chats = seed_chats(clean_db)
    app = streamlit_app(ADMIN_USERS=DEVELOPER)
    chat_id = chats["Lisbon weekend"]
    pages = {
        "home": ("/", "Recent chats"),
        "new-chat": ("/chat", "Ask anything"),
        "chat": (f"/chat?session={chat_id}", "Plan a weekend in Lisbon"),
        "history": ("/history", "Quarterly revenue summary"),
        "admin": ("/admin", "Active users, last 30 days"),
        "admin-conversation": (f"/admin_conversation?session={chat_id}", "Plan a weekend in Lisbon"),
    }
    found: dict[str, list[dict]] = {}
    for name, (path, landmark) in pages.items():
        context, page = open_page(browser, app.url + path, size)
        try:
            page.get_by_text(landmark).first.wait_for(timeout=30_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
            )
            page.wait_for_timeout(1200 if name == "admin" else 400)  # charts draw after the run
            shoot(page, f"page-{name}-{size}")
            violations = serious_violations(page)
            if violations:
                found[name] = violations
        finally:
            context.close()
    report = Path(ARTIFACTS / f"axe-{size}.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(found, indent=2))
    assert not found, json.dumps(found, indent=2)


# The words of a message whose boxes the message's Copy button covers.
WORDS_UNDER_THE_COPY_BUTTON = """(message) => {
  const button = message.querySelector(".chat-copy-button").getBoundingClientRect();
  const content = message.querySelector('[data-testid="stChatMessageContent"]');
  const texts = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
  const covered = [];
  while (texts.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(texts.currentNode);
    for (const box of range.getClientRects()) {
      if (box.width && box.left < button.right && box.right > button.left
          && box.top < button.bottom && box.bottom > button.top) {
        covered.push(texts.currentNode.textContent.slice(0, 40));
      }
    }
  }
  return covered;
}"""


def test_esc_stops_a_reply_and_copy_copies_a_message(streamlit_app, browser, clean_db) -> None:
    app = streamlit_app(DEMO_FIRST_TOKEN_DELAY_SECONDS="0.3", DEMO_WORD_DELAY_SECONDS="0.3")
    context, page = open_page(browser, f"{app.url}/chat", "desktop")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    try:
        wait_until_idle(page)
        # One-letter words fill the question's first line to the right edge, where Copy shows.
        text = "Write a long story " + " ".join(["a"] * 150)
        page.get_by_placeholder("Message").fill(text)
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Stop").wait_for(timeout=20_000)
        page.get_by_test_id("stChatMessage").nth(1).get_by_text("demo model").wait_for(timeout=20_000)
        page.keyboard.press("Escape")
        page.get_by_text("Stopped by you.").wait_for(timeout=20_000)
        wait_until_idle(page)
        question = page.get_by_test_id("stChatMessage").first
        question.hover()
        assert question.evaluate(WORDS_UNDER_THE_COPY_BUTTON) == []
        question.get_by_role("button", name="Copy message").click()
        assert page.evaluate("navigator.clipboard.readText()") == text
        shoot(page, "esc-stopped-and-copied-desktop")
    finally:
        context.close()


def test_the_next_message_can_be_drafted_while_a_reply_streams(streamlit_app, browser, clean_db) -> None:
    app = streamlit_app(DEMO_FIRST_TOKEN_DELAY_SECONDS="0.3", DEMO_WORD_DELAY_SECONDS="0.1")
    context, page = open_page(browser, f"{app.url}/chat", "desktop")
    try:
        wait_until_idle(page)
        box = page.get_by_placeholder("Message")
        box.fill("First question")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Stop").wait_for(timeout=20_000)
        box.fill("A follow-up, typed while the reply streams")  # the box is not disabled
        page.keyboard.press("Enter")  # too early: shown back, unsent, and the reply carries on
        page.get_by_text("A reply is still being written").wait_for(timeout=20_000)
        page.get_by_text("A follow-up, typed while the reply streams").first.wait_for(timeout=10_000)
        page.get_by_role("button", name="Stop").wait_for(state="detached", timeout=60_000)
        wait_until_idle(page)
        reply = page.get_by_test_id("stChatMessage").nth(1)
        assert "This is turn 1 of the conversation" in reply.inner_text()
        shoot(page, "draft-while-streaming-desktop")
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_regenerate_and_edit_in_the_browser(streamlit_app, browser, clean_db, size) -> None:
    app = streamlit_app()
    context, page = open_page(browser, f"{app.url}/chat", size)
    try:
        wait_until_idle(page)
        page.get_by_placeholder("Message").fill("Plan a trip to Lisbn")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Regenerate").wait_for(timeout=30_000)
        page.get_by_role("button", name="Regenerate").click()
        page.get_by_text("Version 2 of 2").wait_for(timeout=30_000)
        wait_until_idle(page)
        shoot(page, f"versions-{size}")
        page.get_by_role("button", name="Edit").click()
        box = page.get_by_label("Edit your message")
        box.fill("Plan a trip to Lisbon")
        page.get_by_role("button", name="Send edited message").click()
        page.get_by_text("Before your edit (3 messages)").wait_for(timeout=30_000)
        # (the last run's Regenerate stays on screen, faded, until the new reply is written)
        page.get_by_role("button", name="Stop").wait_for(state="detached", timeout=60_000)
        page.get_by_role("button", name="Regenerate").wait_for(timeout=30_000)
        wait_until_idle(page)
        page.wait_for_timeout(1500)  # the last run's faded elements are gone
        shoot(page, f"edited-{size}")
        if AXE.exists():
            violations = serious_violations(page)
            assert not violations, json.dumps(violations, indent=2)
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_any_chat_in_the_sidebar_can_be_deleted_and_brought_back(
    streamlit_app, browser, clean_db, size
) -> None:
    chats = seed_chats(clean_db)
    app = streamlit_app()
    context, page = open_page(browser, f"{app.url}/chat?session={chats['Lisbon weekend']}", size)
    try:
        wait_until_idle(page)
        show_sidebar(page, size)
        # Not the open chat: another one's ⋯ (named for its chat, for screen readers too).
        actions = page.get_by_role("button", name="Actions for Unit tests for the parser")
        actions.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Delete").wait_for(timeout=20_000)
        shoot(page, f"chat-actions-{size}")
        dialog.get_by_role("button", name="Delete").click()
        notice = page.get_by_text("Deleted Unit tests for the parser")
        notice.wait_for(timeout=20_000)
        wait_until_idle(page)
        if size == "phone" and page.evaluate(DRAWER_IS_OPEN):
            page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
        shoot(page, f"deleted-with-undo-{size}")
        assert "Lisbon weekend" in page.title()  # the open chat stayed open
        page.get_by_role("button", name="Undo").click()
        notice.wait_for(state="detached", timeout=20_000)
        wait_until_idle(page)
        assert page.url.endswith(f"?session={chats['Lisbon weekend']}")  # the open chat stays open
        show_sidebar(page, size)
        actions.wait_for(timeout=20_000)  # back in the list
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_model_settings_open_in_a_dialog_and_save(streamlit_app, browser, clean_db, size) -> None:
    seed_chats(clean_db)  # (their model is not one this app may use: a new chat's settings are saved)
    app = streamlit_app()
    context, page = open_page(browser, f"{app.url}/chat", size)
    try:
        wait_until_idle(page)
        show_sidebar(page, size)
        page.get_by_role("button", name="Model settings").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("System prompt").fill("Answer in French.")
        shoot(page, f"model-settings-{size}")
        dialog.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved for this chat.").wait_for(timeout=20_000)
        dialog.wait_for(state="detached", timeout=20_000)
        assert "?session=" in page.url  # the new chat exists now, with its settings
    finally:
        context.close()
    with clean_db.connect() as connection:
        saved = connection.exec_driver_sql(
            "SELECT system_prompt FROM chat_session WHERE message_count = 0"
        ).scalar()
    assert saved == "Answer in French."


def test_two_tabs_on_one_chat_show_one_reply_and_refuse_a_second_turn(
    streamlit_app, browser, clean_db
) -> None:
    app = streamlit_app(DEMO_FIRST_TOKEN_DELAY_SECONDS="0.3", DEMO_WORD_DELAY_SECONDS="0.1")
    context = browser.new_context(viewport=SIZES["desktop"])  # one person, one browser, two tabs
    try:
        first = context.new_page()
        first.goto(f"{app.url}/chat")
        wait_until_idle(first)
        first.get_by_placeholder("Message").fill("Plan a three-day trip to Lisbon")
        first.keyboard.press("Enter")
        first.get_by_role("button", name="Stop").wait_for(timeout=20_000)
        second = context.new_page()
        second.goto(first.url)  # the chat's own URL, while its reply streams
        second.get_by_role("button", name="Stop").wait_for(timeout=20_000)  # the same reply, here too
        second.get_by_placeholder("Message").fill("And Porto?")
        second.keyboard.press("Enter")  # a second turn while the first is written: refused, shown back
        second.get_by_text("A reply is still being written").wait_for(timeout=20_000)
        shoot(second, "two-tabs-second-desktop")
        for page in (first, second):
            page.get_by_role("button", name="Stop").wait_for(state="detached", timeout=60_000)
            wait_until_idle(page)
        texts = [
            [message.inner_text() for message in page.get_by_test_id("stChatMessage").all()]
            for page in (first, second)
        ]
        assert len(texts[0]) == 2
        assert texts[0][1].startswith(texts[1][1][:40])  # both tabs show the one reply
        shoot(first, "two-tabs-first-desktop")
    finally:
        context.close()
    with clean_db.connect() as connection:
        stored = connection.exec_driver_sql("SELECT role, content FROM chat_message ORDER BY seq").all()
    assert [role for role, _ in stored] == ["user", "assistant"]
    assert stored[0][1] == "Plan a three-day trip to Lisbon"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_import_lands_once_and_is_listed_at_once(streamlit_app, browser, clean_db, tmp_path, size) -> None:
    chats = seed_chats(clean_db)
    files = ChatFiles(transactions=sessionmaker(bind=clean_db), endpoint_allowed=lambda _endpoint: True)
    exported = files.export_json(User(DEVELOPER), chats["Lisbon weekend"])
    chat_file = tmp_path / "lisbon.json"
    chat_file.write_text(exported.replace('"Lisbon weekend"', '"Lisbon, imported"'))
    app = streamlit_app()
    context, page = open_page(browser, f"{app.url}/history", size)
    try:
        page.locator('input[type="file"]').set_input_files(str(chat_file))
        page.get_by_role("button", name="Import chat").click()
        page.get_by_text("Imported. The chat is at the top of the list.").wait_for(timeout=20_000)
        page.get_by_text("Lisbon, imported").first.wait_for(timeout=20_000)  # listed without another click
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
        shoot(page, f"imported-{size}")
        # The uploader emptied itself: there is no file left to import a second time.
        assert page.get_by_role("button", name="Import chat").count() == 0
    finally:
        context.close()
    with clean_db.connect() as connection:
        copies = connection.exec_driver_sql(
            "SELECT count(*) FROM chat_session WHERE title = 'Lisbon, imported'"
        ).scalar()
    assert copies == 1
