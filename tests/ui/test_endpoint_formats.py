"""The chat page against every kind of endpoint the fake workspace serves (issue 10): each reply shows
and stores what it should: text, tool steps, reasoning, and how a stream that ended badly ended."""

import json

import pytest
from sqlalchemy import text

from components.markup import plain
from services.config import get_settings
from tests.fakes.serving import TOOL_NAME
from tests.ui.conftest import CHAT_PAGE
from tests.ui.test_pages import send, session_id_shown

pytestmark = pytest.mark.ui


@pytest.fixture
def endpoint_app(open_app, app_env, fake_serving):
    """Open the chat page on one endpoint of the fake workspace."""

    def _open(endpoint: str, session: str | None = None, **settings: str):
        app_env.setenv("DATABRICKS_HOST", fake_serving.url)
        app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
        app_env.setenv("LLM_ENDPOINT", endpoint)
        app_env.setenv("MODEL_TITLES", "false")
        for key, value in settings.items():
            app_env.setenv(key, value)
        get_settings.cache_clear()
        return open_app(CHAT_PAGE, **({"session": session} if session else {}))

    return _open


def last_reply(engine) -> tuple[str, str, str | None, dict | None]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT content, status, error_message, details FROM chat_message "
                "WHERE role = 'assistant' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    return row.content, row.status, row.error_message, row.details


def reply_bubble(app):
    return [m for m in app.chat_message if m.name == "assistant"][-1]


def expander_labels(element) -> list[str]:
    return [e.label for e in element.expander]


def test_a_chat_agent_reply_shows_its_tool_step_above_the_answer(endpoint_app, clean_db) -> None:
    app = send(endpoint_app("agent-chat"), "weather in Paris")
    bubble = reply_bubble(app)
    assert expander_labels(bubble) == [f"{plain(TOOL_NAME)} · done"]
    codes = [c.value for c in bubble.code]
    assert json.loads(codes[0]) == {"city": "Paris"}
    assert json.loads(codes[1])["temperature_c"] == 21
    assert bubble.markdown[-1].value == "Served reply to: weather in Paris"
    content, status, _, details = last_reply(clean_db)
    assert (content, status) == ("Served reply to: weather in Paris", "complete")
    assert details["steps"][0]["name"] == TOOL_NAME
    assert details["steps"][0]["state"] == "done"
    assert details["trace_id"].startswith("tr-")
    assert details["request_id"]
    assert any(f"trace {plain(details['trace_id'])}" in c.value for c in bubble.caption)
    # A reload draws the same steps from the database.
    reloaded = reply_bubble(endpoint_app("agent-chat", session=session_id_shown(app)))
    assert expander_labels(reloaded) == [f"{plain(TOOL_NAME)} · done"]


def test_a_responses_agent_reply_shows_the_tool_call_and_its_result(endpoint_app, clean_db) -> None:
    app = send(endpoint_app("agent-responses"), "weather in Paris")
    bubble = reply_bubble(app)
    assert expander_labels(bubble) == [f"{plain(TOOL_NAME)} · done"]
    assert "temperature_c" in bubble.code[1].value
    assert bubble.markdown[-1].value == "Served reply to: weather in Paris"
    content, status, _, details = last_reply(clean_db)
    assert (content, status) == ("Served reply to: weather in Paris", "complete")
    assert details["steps"] == [
        {
            "call_id": "call-1",
            "name": TOOL_NAME,
            "arguments": '{"city": "Paris"}',
            "state": "done",
            "result": '{"city": "Paris", "temperature_c": 21}',
        }
    ]


def test_a_reasoning_reply_shows_the_reasoning_collapsed_and_only_the_text_as_the_reply(
    endpoint_app, clean_db
) -> None:
    app = send(endpoint_app("reasoning"), "hello")
    bubble = reply_bubble(app)
    assert expander_labels(bubble) == ["Reasoning"]
    assert bubble.expander[0].markdown[0].value == "Let me think. The user wants a reply."
    assert bubble.markdown[-1].value == "Served reply to: hello"
    # Never a Python or JSON rendering of the content parts.
    assert not any("summary_text" in m.value or "{'type'" in m.value for m in bubble.markdown)
    content, status, _, details = last_reply(clean_db)
    assert (content, status) == ("Served reply to: hello", "complete")
    assert details == {
        "reasoning": "Let me think. The user wants a reply.",
        "request_id": details["request_id"],
    }


@pytest.mark.parametrize(
    ("endpoint", "status", "stored_text", "note", "retry"),
    [
        ("cut-stream", "error", "Served reply", "the stream was cut off", True),
        ("agent-responses-cut", "error", "Served reply", "the stream was cut off", True),
        ("empty", "error", "", "empty reply", True),
        ("runaway", "stopped", "on" + " on" * 15, "past this chat's limit of 16 tokens", True),
        ("rejects-stream-options", "complete", "Served reply to: hello", None, False),
    ],
)
def test_how_a_stream_ended_is_shown_and_stored(
    endpoint_app, clean_db, endpoint, status, stored_text, note, retry
) -> None:
    app = send(endpoint_app(endpoint, LLM_MAX_TOKENS="16"), "hello")
    assert not app.exception
    content, stored_status, error_message, _ = last_reply(clean_db)
    assert (content, stored_status) == (stored_text, status)
    shown = [e.value for e in app.error] + [w.value for w in app.warning]
    if note is None:
        assert error_message is None
        assert not shown
    else:
        assert note in error_message
        assert any(note in value for value in shown)
    assert any(b.label == "Retry" for b in app.button) is retry


def test_retry_after_a_stopped_reply_makes_a_new_version_not_a_second_reply(endpoint_app, clean_db) -> None:
    app = send(endpoint_app("runaway", LLM_MAX_TOKENS="16"), "hello")  # stopped at the limit
    next(b for b in app.button if b.label == "Retry").click().run()
    assert not app.exception
    app.run()  # the page's next run (the run that streamed the new version drew only that)
    with clean_db.connect() as connection:
        statuses = [r[0] for r in connection.execute(text("SELECT status FROM chat_message ORDER BY seq"))]
    assert statuses == ["complete", "stopped", "stopped"]
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert any(c.value == "Version 2 of 2" for c in app.caption)


def test_retrieved_sources_show_under_the_reply(endpoint_app, clean_db, fake_serving) -> None:
    from tests.fakes.serving import VECTOR_INDEX

    app = send(
        endpoint_app("chat", VECTOR_SEARCH_INDEX=VECTOR_INDEX, VECTOR_SEARCH_RESULTS="2"),
        "How are travel expenses reimbursed?",
    )
    bubble = reply_bubble(app)
    assert expander_labels(bubble) == ["Sources (2)"]
    sources = bubble.expander[0]
    assert sources.markdown[0].value == "**[1]** [Expenses policy](https://handbook.example.com/expenses)"
    assert "reimbursed within 30 days" in sources.caption[0].value
    # The reply itself comes first, then its sources.
    assert bubble.markdown[0].value == "Served reply to: How are travel expenses reimbursed?"
    _, _, _, details = last_reply(clean_db)
    assert details["sources"][0]["title"] == "Expenses policy"
