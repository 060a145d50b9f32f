"""The history page, driven with AppTest: list, search, open, tidy, export and import."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import app_test

from components.runtime import cached_application
from services.config import get_settings
from tests.seed import add_session
from tests.ui.conftest import CHAT_PAGE

pytestmark = pytest.mark.ui

HISTORY_PAGE = "app_pages/history.py"
DEVELOPER = "developer@localhost"


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """What each download button would send, by its media URL's file id."""
    recorded: dict[str, bytes] = {}

    class RecordingStorage(MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            data = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
            recorded[file_id] = data
            return file_id

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingStorage)
    return recorded


@pytest.fixture
def seed(open_app):
    """Add chats for the developer (or another user) through the app's own database connection."""
    open_app()
    sessions = cached_application(get_settings()).transactions

    def _seed(title: str, messages: list[str], owner: str = DEVELOPER, **kwargs) -> uuid.UUID:
        return add_session(sessions, owner, title, messages, **kwargs)

    return _seed


def titles(app) -> list[str]:
    """Item titles as shown (a small heading each; Markdown escapes removed)."""
    shown = [m.value.removeprefix("##### ") for m in app.markdown if m.value.startswith("##### ")]
    return [title.replace(":material/keep: ", "").replace("\\", "") for title in shown]


def session_row(engine, session_id: uuid.UUID):
    with engine.connect() as connection:
        return (
            connection.execute(text("SELECT * FROM chat_session WHERE id = :id"), {"id": session_id})
            .mappings()
            .first()
        )


def search(app, query: str):
    return app.text_input(key="history-query").set_value(query).run()


def test_the_list_shows_only_my_chats_newest_first_with_figures(open_app, seed) -> None:
    seed("Older chat", ["first", "second"])
    seed("Newer chat", ["one", "two", "last words here"])
    seed("Someone else's chat", ["private"], owner="other@example.com")
    app = open_app(HISTORY_PAGE)
    assert not app.exception
    assert titles(app) == ["Newer chat", "Older chat"]
    assert any(c.value.startswith("model\\-a · 3 messages · ") for c in app.caption)  # shown as plain text
    assert any("last words here" in m.value for m in app.markdown)


def test_search_hit_and_miss(open_app, seed) -> None:
    seed("Holiday", ["Which beaches in Portugal are quiet?", "Try Alentejo."])
    seed("Work", ["Quarterly report outline", "Sections..."])
    app = search(open_app(HISTORY_PAGE), "beaches")
    assert titles(app) == ["Holiday"]
    assert any("**beaches**" in m.value for m in app.markdown)
    app = search(app, "volcano")
    assert titles(app) == []
    assert any("No chat matches" in i.value for i in app.info)
    app = search(app, "%_\\'")
    assert not app.exception
    assert sorted(titles(app)) == ["Holiday", "Work"]


def test_open_goes_to_the_chat_page_with_that_session(open_app, seed) -> None:
    session_id = seed("Open me", ["hello there", "general kenobi"])
    app = open_app(HISTORY_PAGE)
    app.button(key=f"open-{session_id}").click().run()
    assert not app.exception
    assert app.subheader[0].value == "Open me"
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert str(session_id) in str(app.query_params["session"])


def test_rename_pin_and_archive(open_app, seed, clean_db) -> None:
    first = seed("First", ["a"])
    second = seed("Second", ["b"])
    app = open_app(HISTORY_PAGE)
    app.button(key=f"manage-{first}").click().run()
    title_input = next(t for t in app.text_input if t.label == "Title")
    title_input.set_value("Renamed first")
    next(b for b in app.get("form_submit_button") if b.proto.label == "Rename").click()
    app.run()
    assert session_row(clean_db, first)["title"] == "Renamed first"
    assert session_row(clean_db, first)["title_is_custom"] is True

    app.button(key=f"pin-{first}").click().run()
    assert session_row(clean_db, first)["pinned"] is True
    assert titles(app)[0] == "Renamed first"

    app.button(key=f"archive-{first}").click().run()
    assert session_row(clean_db, first)["archived_at"] is not None
    assert titles(app) == ["Second"]
    app.get("button_group")[0].select("Archived").run()
    assert titles(app) == ["Renamed first"]
    assert session_row(clean_db, second)["archived_at"] is None


def test_delete_asks_for_confirmation_and_can_be_undone(open_app, seed, clean_db) -> None:
    doomed = seed("Doomed", ["q", "a"])
    app = open_app(HISTORY_PAGE)
    app.button(key=f"manage-{doomed}").click().run()
    app.button(key=f"delete-{doomed}").click().run()
    assert session_row(clean_db, doomed) is not None  # nothing happens before the confirmation
    app.button(key="cancel-delete").click().run()
    assert session_row(clean_db, doomed) is not None
    app.button(key=f"delete-{doomed}").click().run()
    app.button(key="confirm-delete").click().run()
    assert session_row(clean_db, doomed)["deleted_at"] is not None
    assert "Doomed" not in titles(app)
    # The notice offers Undo for a while (DELETE_UNDO_SECONDS).
    app.button(key="action-notice-undo").click().run()
    assert session_row(clean_db, doomed)["deleted_at"] is None
    assert "Doomed" in titles(app)


def test_exports_are_exactly_what_is_stored(open_app, seed, clean_db, downloads) -> None:
    session_id = seed("Export *me*", ["Question with **markdown** & <b>html</b>", "Answer: ünïcødé 👋"])
    app = open_app(HISTORY_PAGE)
    app.button(key=f"manage-{session_id}").click().run()
    buttons = {b.proto.label: b.proto.url for b in app.get("download_button")}
    markdown = downloads[buttons["Export Markdown"].rsplit("/", 1)[1].split(".")[0]]
    exported = downloads[buttons["Export JSON"].rsplit("/", 1)[1].split(".")[0]]
    files = cached_application(get_settings()).files
    from services.views import User

    assert exported == files.export_json(User(DEVELOPER), session_id).encode()
    assert markdown == files.export_markdown(User(DEVELOPER), session_id).encode()
    document = json.loads(exported)
    with clean_db.connect() as connection:
        stored = connection.execute(
            text("SELECT seq, role, content, status FROM chat_message WHERE session_id = :id ORDER BY seq"),
            {"id": session_id},
        ).all()
    assert [(m["seq"], m["role"], m["content"], m["status"]) for m in document["messages"]] == [
        tuple(r) for r in stored
    ]
    assert document["session"]["title"] == "Export *me*"
    for _, _, content, _ in stored:
        assert content.encode() in markdown


def test_import_round_trip_and_a_bad_file(open_app, seed, clean_db, downloads) -> None:
    original = seed("Round trip", ["one", "two", "three"])
    app = open_app(HISTORY_PAGE)
    app.button(key=f"manage-{original}").click().run()
    url = next(b.proto.url for b in app.get("download_button") if b.proto.label == "Export JSON")
    exported = downloads[url.rsplit("/", 1)[1].split(".")[0]]

    uploader = app.get("file_uploader")[0]
    uploader.set_value(("chat.json", b"{ this is not json", "application/json"))
    app.run()
    app.button(key="import-button").click().run()
    assert any("not a chat exported from this app" in e.value for e in app.error)

    app.get("file_uploader")[0].set_value(("chat.json", exported, "application/json"))
    app.run()
    app.button(key="import-button").click().run()
    assert any("Imported" in block.value for block in app.markdown)
    # Imported once and only once: the uploader is empty again, so no further click can import a copy,
    # and the new chat is in the list at once.
    assert app.get("file_uploader")[0].value is None
    assert not [b for b in app.button if b.key == "import-button"]
    assert titles(app).count("Round trip") == 2
    with clean_db.connect() as connection:
        ids = [
            r[0] for r in connection.execute(text("SELECT id FROM chat_session WHERE title = 'Round trip'"))
        ]
    assert len(ids) == 2
    imported = next(i for i in ids if i != original)
    files = cached_application(get_settings()).files
    from services.views import User

    again = json.loads(files.export_json(User(DEVELOPER), imported))
    first = json.loads(exported)
    again["session"].pop("id"), first["session"].pop("id")
    # This app runs the demo model only, so the imported chat cannot keep `model-a`: it uses the default.
    assert (first["session"].pop("model_endpoint"), again["session"].pop("model_endpoint")) == (
        "model-a",
        None,
    )
    assert again == first


def test_sidebar_and_home_follow_renames_deletes_and_imports(open_app, seed) -> None:
    kept = seed("Kept chat", ["k"])
    gone = seed("Gone chat", ["g"])
    files = cached_application(get_settings()).files
    from services.views import User

    user = User(DEVELOPER)
    history = cached_application(get_settings()).history
    history.rename(user, kept, "Renamed chat")
    history.delete(user, gone)
    files.import_json(user, files.export_json(user, kept).replace("Renamed chat", "Imported chat"))
    chat = open_app(CHAT_PAGE)
    sidebar_links = [button.label for button in chat.sidebar.button]
    home = open_app()
    home_links = [link.proto.label for link in home.get("page_link")]
    for links in (sidebar_links, home_links):
        assert any("Renamed chat" in label for label in links)
        assert any("Imported chat" in label for label in links)
        assert not any("Gone chat" in label for label in links)


def test_a_long_chat_draws_its_newest_messages_and_shows_earlier_ones_on_request(open_app, seed) -> None:
    chat_id = seed("Long chat", [f"message number {index}" for index in range(1, 131)])
    app = open_app(CHAT_PAGE, session=str(chat_id))
    assert len(app.chat_message) == 50
    assert app.chat_message[0].markdown[0].value == "message number 81"
    assert app.chat_message[-1].markdown[0].value == "message number 130"
    earlier = next(b for b in app.button if b.label.startswith("Show 50 earlier messages"))
    assert "80 not shown" in earlier.label
    earlier.click().run()
    assert len(app.chat_message) == 100
    assert app.chat_message[0].markdown[0].value == "message number 31"
    last = next(b for b in app.button if b.label.startswith("Show 30 earlier messages"))
    last.click().run()
    assert len(app.chat_message) == 130
    assert not any(b.label.startswith("Show ") for b in app.button)


def test_archive_says_what_it_did_and_undo_brings_the_chat_back(open_app, seed, clean_db) -> None:
    chat = seed("Archive me", ["a"])
    seed("Stays", ["b"])
    app = open_app(HISTORY_PAGE)
    app.button(key=f"manage-{chat}").click().run()
    app.button(key=f"archive-{chat}").click().run()
    assert any("Archived Archive me" in block.value for block in app.markdown)
    assert titles(app) == ["Stays"]
    app.button(key="action-notice-undo").click().run()
    assert session_row(clean_db, chat)["archived_at"] is None
    assert sorted(titles(app)) == ["Archive me", "Stays"]
    assert not [button for button in app.button if button.key == "action-notice-undo"]


def test_one_page_of_chats_has_no_page_number(open_app, seed) -> None:
    seed("Only chat", ["a"])
    app = open_app(HISTORY_PAGE)
    assert not [caption for caption in app.caption if caption.value.startswith("Page ")]
