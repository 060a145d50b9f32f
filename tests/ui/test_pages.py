"""Every page renders, and the chat page works end to end through streamlit.testing's AppTest."""

import uuid

import pytest
from sqlalchemy import text

from components.runtime import cached_application
from services.config import get_settings
from services.views import User
from tests.ui.conftest import CHAT_PAGE

pytestmark = pytest.mark.ui

DEVELOPER = "developer@localhost"


def stored_messages(engine, owner: str = DEVELOPER) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT m.role, m.content, m.status FROM chat_message m "
                "JOIN chat_session s ON s.id = m.session_id "
                "WHERE s.owner_id = :owner ORDER BY s.created_at, m.seq"
            ),
            {"owner": owner},
        )
        return [tuple(row) for row in rows]


def bubbles(app) -> list[tuple[str, str]]:
    return [(m.name, "\n".join(md.value for md in m.markdown)) for m in app.chat_message]


def send(app, message: str):
    return app.chat_input[0].set_value(message).run()


def session_id_shown(app) -> str:
    """The open chat's id, from the URL (the page keeps the URL in step with the open chat) and the
    chat's details menu, which must agree."""
    in_url = app.query_params["session"]
    assert any(code.value == in_url for code in app.code)
    return in_url


def demo_notice_shown(app) -> bool:
    return any("replies are made up locally" in block.value for block in app.markdown)


@pytest.mark.parametrize(
    "page", [None, CHAT_PAGE, "app_pages/home.py", "app_pages/history.py", "app_pages/admin.py"]
)
def test_every_page_renders_without_an_exception(open_app, app_env, page) -> None:
    app_env.setenv("ADMIN_USERS", DEVELOPER)  # the admin page refuses everyone else
    get_settings.cache_clear()
    app = open_app(page)
    assert not app.exception
    assert not app.error
    assert app.title or app.subheader  # the chat page's heading is its chat's title, a subheader


def test_home_greets_the_user_and_links_recent_chats(open_app, clean_db) -> None:
    chat = open_app(CHAT_PAGE)
    send(chat, "Plan a trip to Lisbon")
    home = open_app()
    assert home.title[0].value == "Hello, Developer"
    metrics = {m.label: m.value for m in home.metric}
    assert metrics["Chats active this week"] == "1"
    assert metrics["Messages sent this week"] == "1"
    assert metrics["Model in use"] == "offline-demo"
    links = [link for link in home.get("page_link") if "Plan a trip" in link.proto.label]
    assert len(links) == 1


def test_two_turns_stream_into_the_page_and_both_are_saved(open_app, clean_db) -> None:
    app = open_app(CHAT_PAGE)
    assert demo_notice_shown(app)
    send(app, "First question")
    send(app, "Second question")
    assert not app.exception
    shown = bubbles(app)
    assert [role for role, _ in shown] == ["user", "assistant", "user", "assistant"]
    assert 'You wrote: "Second question"' in shown[3][1]
    stored = stored_messages(clean_db)
    assert [(role, status) for role, _, status in stored] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert stored[0][1] == "First question"
    assert stored[3][1] == shown[3][1]
    # Each reply has a caption with its model and figures.
    assert sum("first token" in c.value and "offline\\-demo" in c.value for c in app.caption) == 2


def test_a_reload_shows_the_same_conversation(open_app, clean_db) -> None:
    first_tab = open_app(CHAT_PAGE)
    send(first_tab, "Remember me")
    session_id = session_id_shown(first_tab)
    reloaded = open_app(CHAT_PAGE, session=session_id)
    assert bubbles(reloaded) == bubbles(first_tab)
    assert session_id_shown(reloaded) == session_id
    assert any("Remember me" in button.label for button in reloaded.sidebar.button)


@pytest.mark.parametrize("which", ["other-user", "missing", "garbage"])
def test_a_link_to_someone_elses_chat_answers_like_a_missing_one(open_app, clean_db, which) -> None:
    application = open_app().session_state  # ensures the cached application exists
    del application
    chat = cached_application(get_settings()).chat
    if which == "other-user":
        other = User("someone.else@example.com")
        session = chat.create_session(other)
        chat.submit_message(other, session.id, "their secret", client_message_id=str(uuid.uuid4()))
        target = str(session.id)
    else:
        target = str(uuid.uuid4()) if which == "missing" else "not-a-uuid"
    app = open_app(CHAT_PAGE, session=target)
    assert [e.value for e in app.error] == [
        "That conversation was not found. It may have been deleted, or the link is wrong."
    ]
    assert not app.chat_message
    assert "their secret" not in str([m.value for m in app.markdown])


def test_blank_text_is_not_sent_and_stores_nothing(open_app, clean_db) -> None:
    app = send(open_app(CHAT_PAGE), "   \n  ")
    assert any("empty" in e.value for e in app.error)
    assert stored_messages(clean_db) == []


def test_text_over_the_limit_is_refused_before_any_model_call_and_shown_back(
    open_app, app_env, clean_db
) -> None:
    app_env.setenv("MAX_MESSAGE_CHARS", "100")
    get_settings.cache_clear()
    too_long = "word " * 30
    app = send(open_app(CHAT_PAGE), too_long)
    assert any("150 characters" in e.value and "limit is 100" in e.value for e in app.error)
    assert [c.value for c in app.code] == [too_long]  # the text is not lost: shown for copying
    assert all(role != "assistant" for role, _, _ in stored_messages(clean_db))
    assert all(content != too_long for _, content, _ in stored_messages(clean_db))


def test_a_nul_character_is_stored_safely_with_a_notice(open_app, clean_db) -> None:
    # A lone surrogate cannot cross Streamlit's protocol at all (browsers encode it as U+FFFD);
    # the service-level test covers it for callers that are not the browser.
    app = send(open_app(CHAT_PAGE), "before\x00after end")
    assert not app.exception
    assert any("replaced" in w.value for w in app.warning)
    assert stored_messages(clean_db)[0][1] == "before\ufffdafter end"
    assert [role for role, _ in bubbles(app)] == ["user", "assistant"]


def test_the_page_reattaches_to_a_reply_already_being_written(open_app, app_env, clean_db) -> None:
    app_env.setenv("DEMO_WORD_DELAY_SECONDS", "0.02")
    get_settings.cache_clear()
    open_app()
    chat = cached_application(get_settings()).chat
    user = User(DEVELOPER)
    session = chat.create_session(user)
    chat.submit_message(user, session.id, "written in the background", client_message_id=str(uuid.uuid4()))
    # The tab that sent it was closed; a new one opens the chat while the reply is still streaming.
    assert chat.open_request(user, session.id) is not None
    app = open_app(CHAT_PAGE, session=str(session.id))
    assert [role for role, _ in bubbles(app)] == ["user", "assistant"]
    assert 'You wrote: "written in the background"' in bubbles(app)[1][1]
    assert stored_messages(clean_db)[-1][2] == "complete"


def test_chat_streams_from_a_databricks_serving_endpoint(open_app, app_env, clean_db, fake_serving) -> None:
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
    app_env.setenv("LLM_ENDPOINT", "chat")
    get_settings.cache_clear()
    app = open_app(CHAT_PAGE)
    assert not demo_notice_shown(app)
    assert any("Databricks serving endpoint" in block.value for block in app.markdown)
    send(app, "Hello endpoint")
    assert bubbles(app)[-1] == ("assistant", "Served reply to: Hello endpoint")
    assert stored_messages(clean_db)[-1] == ("assistant", "Served reply to: Hello endpoint", "complete")
    assert any("11 → 5 tokens" in c.value for c in app.caption), [c.value for c in app.caption]


def test_a_model_error_keeps_the_message_and_retry_works(open_app, app_env, clean_db, fake_serving) -> None:
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
    app_env.setenv("LLM_ENDPOINT", "status-503")
    get_settings.cache_clear()
    open_app()
    cached_application(
        get_settings()
    ).endpoints.refresh()  # the endpoint list, loaded now rather than in the background
    app = send(open_app(CHAT_PAGE), "Are you there?")
    assert any("internal error (503)" in e.value and "press Retry" in e.value for e in app.error)
    assert stored_messages(clean_db)[0] == ("user", "Are you there?", "complete")
    # Switch this chat to a healthy endpoint from the workspace's list, then Retry.
    app.sidebar.button(key="model-settings").click().run()
    chooser = next(w for w in app.selectbox if w.label == "Model endpoint")
    assert chooser.options == [  # ready chat endpoints only
        "status-503",
        "agent-chat",
        "agent-endpoint",
        "agent-responses",
        "agent-responses-cut",
        "chat",
        "reasoning",
    ]
    chooser.set_value("chat")
    app.button(key="FormSubmitter:settings-" + session_id_shown(app) + "-form-Save settings").click().run()
    retry = next(b for b in app.button if b.label == "Retry")
    retry.click().run()
    assert not app.exception
    assert bubbles(app)[-1] == ("assistant", "Served reply to: Are you there?")
    assert [status for _, _, status in stored_messages(clean_db)] == ["complete", "error", "complete"]


def test_when_endpoints_cannot_be_listed_the_configured_one_stays_and_the_page_says_why(
    open_app, app_env, clean_db, fake_serving
) -> None:
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", "dapi-not-allowed-to-list")
    app_env.setenv("LLM_ENDPOINT", "chat")
    get_settings.cache_clear()
    open_app()
    cached_application(get_settings()).endpoints.refresh()
    app = open_app(CHAT_PAGE)
    app.sidebar.button(key="model-settings").click().run()
    assert [w.label for w in app.selectbox] == []
    assert next(w for w in app.text_input if w.label == "Model endpoint").value == "chat"
    assert any("could not be listed" in c.value and "`chat`" in c.value for c in app.caption)


def test_a_bogus_workspace_host_still_opens_the_app_and_the_chat_says_what_is_wrong(
    open_app, app_env, clean_db
) -> None:
    app_env.setenv("DATABRICKS_HOST", "https://workspace.invalid")
    app_env.setenv("DATABRICKS_TOKEN", "dapi-anything")
    app_env.setenv("LLM_ENDPOINT", "chat")
    app_env.setenv("DATABRICKS_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    home = open_app()
    home.run(timeout=5)  # no page waits on the workspace
    assert not home.exception
    assert not home.error
    chat = open_app(CHAT_PAGE).run(timeout=5)
    assert not chat.error
    send(chat, "hello?")
    assert any("not reachable" in e.value or "Could not sign in" in e.value for e in chat.error)
    assert stored_messages(clean_db)[0] == ("user", "hello?", "complete")


def test_a_reply_written_by_another_instance_shows_its_saved_text(open_app, clean_db) -> None:
    open_app()
    chat = cached_application(get_settings()).chat
    user = User(DEVELOPER)
    session = chat.create_session(user)
    with clean_db.begin() as connection:
        message_id = connection.execute(
            text(
                "INSERT INTO chat_message (session_id, seq, role, content, status) "
                "VALUES (:s, 1, 'user', 'asked elsewhere', 'complete') RETURNING id"
            ),
            {"s": session.id},
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO chat_request (id, session_id, user_id, user_message_id, status, partial_text, "
                "started_at, checkpointed_at) VALUES (:id, :s, :u, :m, 'streaming', 'Half of the answer', "
                "now(), now())"
            ),
            {"id": uuid.uuid4(), "s": session.id, "u": DEVELOPER, "m": message_id},
        )
    app = open_app(CHAT_PAGE, session=str(session.id))
    assert not app.exception
    assert "Half of the answer" in [m.value for m in app.markdown]
    assert any("another app instance" in c.value for c in app.caption)
    assert not [b for b in app.button if b.label == "Retry"]
