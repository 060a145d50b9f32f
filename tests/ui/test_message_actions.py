"""Actions on messages, driven with AppTest: Regenerate keeps every version of a reply, one shows at
a time with a switcher, and Retry after Stop makes a new version instead of a second reply."""

from __future__ import annotations

import pytest

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
