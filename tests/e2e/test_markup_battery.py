"""The rendering battery in a real browser: markup payloads as message bodies (both roles), chat
titles, model names and feedback comments, on the chat, history, admin and read-only pages. No
script runs, and the browser requests nothing from outside the app (every request is recorded)."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

from persistence.database import session_factory
from services.chat_files import ChatFiles
from services.views import User
from tests.payloads import OUTSIDE, PAYLOADS

pytestmark = pytest.mark.e2e

DEVELOPER = User("developer@localhost")
TITLED_CHATS = 20  # the sidebar and a history page show this many titles


def import_chat(files: ChatFiles, title: str, contents: list[str], model: str | None) -> str:
    messages = [
        {
            "seq": index,
            "role": "user" if index % 2 else "assistant",
            "status": "complete",
            "content": content,
            "model": None if index % 2 else model,
        }
        for index, content in enumerate(contents, start=1)
    ]
    document = {
        "format": "lakebase-chat.session",
        "version": 1,
        "session": {"title": title, "model_endpoint": None},
        "messages": messages,
    }
    return str(files.import_json(DEVELOPER, json.dumps(document).encode()))


def test_markup_payloads_run_no_script_and_fetch_nothing_from_outside(
    streamlit_app, browser, clean_db
) -> None:
    files = ChatFiles(transactions=session_factory(clean_db))
    # Every payload as a user message and as a reply, in one chat; then chats titled with payloads.
    bodies = [payload for payload in PAYLOADS for _ in range(2)]
    main_chat = import_chat(files, PAYLOADS[0], bodies, model=PAYLOADS[6])
    for payload in PAYLOADS[1 : TITLED_CHATS + 1]:
        import_chat(files, payload, ["question", "answer"], model=payload)
    with clean_db.begin() as connection:
        # Thumbs down with payload comments, for the admin's quality list.
        replies = connection.execute(
            text("SELECT id FROM chat_message WHERE role = 'assistant' ORDER BY id LIMIT 10")
        ).scalars()
        for reply_id, comment in zip(replies, PAYLOADS[20:30], strict=False):
            connection.execute(
                text(
                    "INSERT INTO feedback (message_id, user_id, rating, comment) "
                    "VALUES (:id, 'developer@localhost', -1, :comment)"
                ),
                {"id": reply_id, "comment": comment},
            )

    app = streamlit_app(ADMIN_USERS=DEVELOPER.email)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside_requests: list[str] = []
    dialogs: list[str] = []

    def guard(route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if host not in {"127.0.0.1", "localhost"}:
            outside_requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    context.add_init_script("window.__xss = 0;")
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    pages = [
        (f"/chat?session={main_chat}", PAYLOADS[-1][:8]),
        ("/history", "History"),
        ("/admin", "Thumbs down"),
        (f"/admin_conversation?session={main_chat}", "Read-only view"),
    ]
    try:
        for path, marker in pages:
            page.goto(app.url + path)
            page.get_by_text(marker).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)  # let lazy images and late scripts have their chance
            assert page.evaluate("window.__xss") == 0, path
            assert (
                page.evaluate(
                    f"[...document.querySelectorAll('img, iframe, object, embed, video, audio')]"
                    f".filter(e => (e.src || e.data || '').includes('{urlparse(OUTSIDE).hostname}')).length"
                )
                == 0
            ), path
            page.screenshot(path=f"/tmp/markup-battery-{path.strip('/').split('?')[0] or 'home'}.png")
    finally:
        context.close()
    leaks = [url for url in outside_requests if urlparse(OUTSIDE).hostname in url]
    assert leaks == []
    assert dialogs == []
