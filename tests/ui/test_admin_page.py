"""The admin page and the audited read-only view, driven with AppTest against seeded data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from services.config import get_settings
from tests.ui.conftest import CHAT_PAGE

pytestmark = pytest.mark.ui

ADMIN_PAGE = "app_pages/admin.py"
CONVERSATION_PAGE = "app_pages/admin_conversation.py"
DEVELOPER = "developer@localhost"
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def as_admin(app_env):
    app_env.setenv("ADMIN_USERS", f"{DEVELOPER}, boss@example.com")
    get_settings.cache_clear()


def insert_turns(engine, owner: str, model: str, turns: list[dict], *, title: str = "A chat") -> uuid.UUID:
    """One session of question/reply pairs; each turn dict sets the reply's figures and day offset."""
    session_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO chat_session (id, owner_id, title, model_endpoint) "
                "VALUES (:id, :owner, :title, :model)"
            ),
            {"id": session_id, "owner": owner, "title": title, "model": model},
        )
        for index, turn in enumerate(turns):
            at = NOW - timedelta(days=turn.get("days_ago", 0))
            connection.execute(
                text(
                    "INSERT INTO chat_message (session_id, seq, role, content, status, created_at) "
                    "VALUES (:s, :seq, 'user', 'question', 'complete', :at)"
                ),
                {"s": session_id, "seq": 2 * index + 1, "at": at},
            )
            connection.execute(
                text(
                    "INSERT INTO chat_message (session_id, seq, role, content, status, model, prompt_tokens, "
                    "completion_tokens, time_to_first_token_ms, latency_ms, created_at) VALUES "
                    "(:s, :seq, 'assistant', :content, :status, :model, :p, :c, :ttft, :lat, :at)"
                ),
                {
                    "s": session_id,
                    "seq": 2 * index + 2,
                    "content": turn.get("content", "an answer"),
                    "status": turn.get("status", "complete"),
                    "model": model,
                    "p": turn.get("prompt", 10),
                    "c": turn.get("completion", 20),
                    "ttft": turn.get("ttft", 300),
                    "lat": turn.get("latency", 1000),
                    "at": at,
                },
            )
    return session_id


def scalar(engine, sql: str, **params):
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_a_non_admin_is_refused_by_url(open_app, clean_db) -> None:
    app = open_app(ADMIN_PAGE)
    assert [e.value for e in app.error] == [
        "This page is for the app's admins, and you are not one. If you need it, ask whoever runs this "
        "app to add you."
    ]
    assert [link.proto.label for link in app.get("page_link")] == ["Back to your chats"]  # no dead end
    assert not app.metric
    assert not app.dataframe
    session_id = insert_turns(clean_db, "alice@example.com", "model-a", [{}])
    view = open_app(CONVERSATION_PAGE, session=str(session_id))
    assert view.error
    assert not view.chat_message
    assert scalar(clean_db, "SELECT count(*) FROM admin_audit") == 0


def test_every_figure_equals_a_direct_sql_count(open_app, as_admin, clean_db) -> None:
    insert_turns(
        clean_db,
        "alice@example.com",
        "model-a",
        [
            {"days_ago": 0, "prompt": 100, "completion": 50, "ttft": 200, "latency": 900},
            {"days_ago": 3, "prompt": 40, "completion": 60, "ttft": 400, "latency": 1500, "status": "error"},
        ],
    )
    insert_turns(
        clean_db,
        "bob@example.com",
        "model-b",
        [
            {"days_ago": 10, "prompt": 7, "completion": 9, "ttft": 800, "latency": 3000},
            {"days_ago": 10, "prompt": 5, "completion": 5, "ttft": 900, "latency": 3500},
        ],
    )
    insert_turns(clean_db, "carol@example.com", "model-a", [{"days_ago": 45}])  # outside 30 days
    with clean_db.begin() as connection:  # ratings: model-a one up, one down; model-b one up
        connection.execute(
            text(
                "INSERT INTO feedback (message_id, user_id, rating) "
                "SELECT m.id, s.owner_id, CASE WHEN m.seq = 2 THEN 1 ELSE -1 END "
                "FROM chat_message m JOIN chat_session s ON s.id = m.session_id "
                "WHERE m.role = 'assistant' AND s.owner_id IN ('alice@example.com', 'bob@example.com') "
                "AND (s.owner_id = 'alice@example.com' OR m.seq = 2)"
            )
        )
    app = open_app(ADMIN_PAGE)
    assert not app.exception
    assert not app.error

    window = "m.created_at >= :start"
    start = datetime.combine((NOW - timedelta(days=29)).date(), datetime.min.time(), tzinfo=UTC)
    join = "FROM chat_message m JOIN chat_session s ON s.id = m.session_id WHERE " + window
    expected = {
        "Sessions": scalar(clean_db, f"SELECT count(DISTINCT m.session_id) {join}", start=start),
        "Messages": scalar(clean_db, f"SELECT count(*) {join} AND m.role = 'user'", start=start),
        "Prompt tokens": scalar(clean_db, f"SELECT sum(m.prompt_tokens) {join}", start=start),
        "Completion tokens": scalar(clean_db, f"SELECT sum(m.completion_tokens) {join}", start=start),
        "Errors": scalar(clean_db, f"SELECT count(*) {join} AND m.status = 'error'", start=start),
    }
    assert expected == {
        "Sessions": 2,
        "Messages": 4,
        "Prompt tokens": 152,
        "Completion tokens": 124,
        "Errors": 1,
    }
    for label, value in expected.items():
        assert metric(app, label) == f"{value:,}"
    for label, days in (
        ("Active users, last day", 1),
        ("Active users, last 7 days", 7),
        ("Active users, last 30 days", 30),
    ):
        count = scalar(
            clean_db,
            "SELECT count(DISTINCT s.owner_id) FROM chat_message m "
            "JOIN chat_session s ON s.id = m.session_id WHERE m.role = 'user' AND m.created_at >= :since",
            since=datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            - timedelta(days=days),
        )
        assert metric(app, label) == str(count)

    models = app.dataframe[0].value.set_index("endpoint")
    for model in ("model-a", "model-b"):
        row = models.loc[model]
        where = f"{join} AND m.role = 'assistant' AND m.model = :model"
        assert row["requests"] == scalar(clean_db, f"SELECT count(*) {where}", start=start, model=model)
        assert row["prompt tokens"] == scalar(
            clean_db, f"SELECT sum(m.prompt_tokens) {where}", start=start, model=model
        )
        p50 = scalar(
            clean_db,
            f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY m.latency_ms) {where}",
            start=start,
            model=model,
        )
        assert row["latency p50 (ms)"] == round(p50)
        errors = scalar(clean_db, f"SELECT avg((m.status = 'error')::int) {where}", start=start, model=model)
        assert row["error rate"] == pytest.approx(float(errors))
    assert models.loc["model-a", "error rate"] == pytest.approx(0.5)
    for model in ("model-a", "model-b"):
        up_rate = scalar(
            clean_db,
            "SELECT avg((f.rating = 1)::int) FROM feedback f JOIN chat_message m ON m.id = f.message_id "
            "WHERE m.model = :model AND m.created_at >= :start",
            model=model,
            start=start,
        )
        assert models.loc[model, "thumbs-up rate"] == pytest.approx(float(up_rate))
    assert models.loc["model-a", "thumbs-up rate"] == pytest.approx(0.5)
    assert models.loc["model-b", "thumbs-up rate"] == pytest.approx(1.0)

    users = app.dataframe[1].value
    assert list(users["user"]) == ["alice@example.com", "bob@example.com"]
    assert list(users["messages"]) == [2, 2]
    assert list(users["tokens"]) == [250, 26]


def test_feedback_from_the_chat_page_reaches_the_quality_list(open_app, as_admin, clean_db) -> None:
    chat = open_app(CHAT_PAGE)
    chat.chat_input[0].set_value("Rate this").run()
    chat.feedback[0].set_value(0).run()  # thumbs down
    rating = scalar(clean_db, "SELECT rating FROM feedback")
    assert rating == -1
    comment_box = next(t for t in chat.text_area if t.label.startswith("What was good"))
    comment_box.set_value("Too vague")
    next(b for b in chat.get("form_submit_button") if b.proto.label == "Save comment").click()
    chat.run()
    assert scalar(clean_db, "SELECT comment FROM feedback") == "Too vague"
    chat.feedback[0].set_value(1).run()  # changed its author's mind
    assert scalar(clean_db, "SELECT rating FROM feedback") == 1
    chat.feedback[0].set_value(0).run()

    admin = open_app(ADMIN_PAGE)
    shown = " ".join(m.value for m in admin.markdown)
    assert "Too vague" in shown
    assert "Rate this" in shown
    link = next(p for p in admin.get("page_link") if "read-only" in p.proto.label)
    assert "admin_conversation" in link.proto.page

    # The link names the rated reply; the read-only view marks it, with its comment under it.
    reply_id = scalar(clean_db, "SELECT message_id FROM feedback")
    session_id = scalar(clean_db, "SELECT session_id FROM chat_message WHERE id = :id", id=reply_id)
    assert f"reply={reply_id}" in link.proto.query_string
    view = open_app(CONVERSATION_PAGE, session=str(session_id), reply=str(reply_id))
    assert [w.value for w in view.warning] == [
        "**Thumbs down** from developer\\@localhost: Too vague  \n"
        ":material/arrow_upward: The reply you opened from the Admin page."
    ]


def test_viewing_a_conversation_writes_one_audit_row_and_is_listed(open_app, as_admin, clean_db) -> None:
    session_id = insert_turns(
        clean_db, "alice@example.com", "model-a", [{"content": "alice's answer"}], title="Alice's"
    )
    view = open_app(CONVERSATION_PAGE, session=str(session_id))
    assert not view.exception
    assert [m.name for m in view.chat_message] == ["user", "assistant"]
    assert not view.chat_input  # read-only: nothing to write with
    view.run()  # a rerun of the same view is not a new view
    rows = [
        tuple(r)
        for r in clean_db.connect().execute(text("SELECT admin_id, owner_id, session_id FROM admin_audit"))
    ]
    assert rows == [(DEVELOPER, "alice@example.com", session_id)]
    admin = open_app(ADMIN_PAGE)
    audit = admin.dataframe[2].value
    assert list(audit["owner"]) == ["alice@example.com"]
    assert list(audit["chat"]) == ["Alice's"]
    # Nothing was written into Alice's session.
    assert scalar(clean_db, "SELECT count(*) FROM chat_message WHERE session_id = :id", id=session_id) == 2
