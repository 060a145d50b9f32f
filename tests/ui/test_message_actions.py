"""Actions on messages, driven with AppTest: Regenerate keeps every version of a reply, one shows at
a time with a switcher, and Retry after Stop makes a new version instead of a second reply."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.ui.conftest import CHAT_PAGE
from tests.ui.test_pages import bubbles, send, stored_messages

pytestmark = pytest.mark.ui


def version_caption(app) -> str | None:
    return next((c.value for c in app.caption if c.value.startswith("Version ")), None)


def test_regenerate_adds_a_version_and_every_version_can_be_read(open_app, clean_db) -> None:
    app = open_app(CHAT_PAGE)
    send(app, "Plan a trip")
    assert version_caption(app) is None  # one version: no switcher
    app.button(key=next(b.key for b in app.button if str(b.key).startswith("regenerate-"))).click().run()
    assert not app.exception
    app.run()  # the page's next run (the run that streamed the new version drew only that)
    assert [role for role, _, _ in stored_messages(clean_db)] == ["user", "assistant", "assistant"]
    assert [name for name, _ in bubbles(app)] == ["user", "assistant"]  # one reply shows
    assert version_caption(app) == "Version 2 of 2"
    previous = next(b for b in app.button if str(b.key).startswith("version-back-"))
    previous.click().run()
    assert version_caption(app) == "Version 1 of 2"
    assert not [b for b in app.button if str(b.key).startswith("regenerate-")]  # only on the newest
    next(b for b in app.button if str(b.key).startswith("version-next-")).click().run()
    assert version_caption(app) == "Version 2 of 2"


def test_edit_and_resend_replaces_the_latest_question_and_keeps_the_old_one_collapsed(
    open_app, clean_db
) -> None:
    app = open_app(CHAT_PAGE)
    send(app, "Plan a trip to Lisbn")
    app.button(key=next(b.key for b in app.button if str(b.key).startswith("edit-"))).click().run()
    form_text = next(t for t in app.text_area if t.label == "Edit your message")
    assert form_text.value == "Plan a trip to Lisbn"
    form_text.set_value("Plan a trip to Lisbon")
    next(b for b in app.get("form_submit_button") if b.proto.label == "Send edited message").click()
    app.run()
    assert not app.exception
    stored = stored_messages(clean_db)
    assert [(role, content) for role, content, _ in stored][::2] == [
        ("user", "Plan a trip to Lisbn"),
        ("user", "Plan a trip to Lisbon"),
    ]
    with clean_db.connect() as connection:
        flags = [r[0] for r in connection.execute(text("SELECT superseded FROM chat_message ORDER BY seq"))]
    assert flags == [True, True, False, False]
    # The new question and its reply show; the replaced pair is collapsed above them.
    assert [expander.label for expander in app.main.expander] == ["Before your edit (2 messages)"]
    shown = [(name, body) for name, body in bubbles(app) if "Lisbon" in body or "Lisbn" in body]
    assert shown[-1][0] == "assistant"
    assert "Plan a trip to Lisbon" in shown[-1][1]


def test_only_the_latest_question_can_be_edited(open_app, clean_db) -> None:
    app = open_app(CHAT_PAGE)
    send(app, "First")
    send(app, "Second")
    edit_buttons = [b.key for b in app.button if str(b.key).startswith("edit-")]
    assert len(edit_buttons) == 1
    first_id = int(edit_buttons[0].removeprefix("edit-"))
    assert stored_messages(clean_db)[2][1] == "Second"
    with clean_db.connect() as connection:
        latest = connection.execute(text("SELECT max(id) FROM chat_message WHERE role = 'user'")).scalar()
    assert first_id == latest
