"""The reliability battery (issue 9): faults, races, hostile input and other users' ids, each bounded
in time, each adding a row to the table printed at the end of the run.

A turn is *acknowledged* when the submit returned to the user; it is *lost* when, after the run,
its message or its final reply is missing; *duplicated* when anything of it was stored twice.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from persistence.database import session_factory
from services.admin import AdminService
from services.application import build_application
from services.chat_files import ChatFiles
from services.config import Settings
from services.errors import UserError
from services.feedback import FeedbackService
from services.history import HistoryService, SessionFilters
from services.identity import IdentityError, resolve_user
from services.views import User
from tests.conftest import SUITE_APP_ROLE
from tests.fakes.models import ScriptedModel
from tests.integration.helpers import ALICE, BOB, chat_service, wait_until
from tests.payloads import PAYLOADS
from tests.reliability.conftest import BATTERY_LOG

pytestmark = [pytest.mark.battery, pytest.mark.integration]

CANARY_TEXT = f"canary-text-{uuid.uuid4().hex}"
CANARY_TOKEN = f"dapi-canary-{uuid.uuid4().hex}"


def is_clear_refusal(error: BaseException) -> bool:
    """An error that tells the person what happened: a UserError, or one carrying `user_message`."""
    return isinstance(error, UserError) or isinstance(getattr(error, "user_message", None), str)


def wait_until_settled(service, user: User, session_id: uuid.UUID, timeout: float = 30.0) -> None:
    """Until no reply is open in the chat, riding out the faults the test injects."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if service.open_request(user, session_id) is None:
                return
        except Exception:
            pass  # a killed connection: ask again
        time.sleep(0.05)
    raise AssertionError("a reply did not settle in time")


def submit_like_a_page(service, user: User, session_id: uuid.UUID, words: str, client_id: str) -> bool:
    """A page's submit, repeated with the same client id when the database hiccups (as the page's
    own rerun would): True once the app acknowledged it."""
    for _ in range(8):
        try:
            service.submit_message(user, session_id, words, client_message_id=client_id)
            return True
        except Exception as error:
            if is_clear_refusal(error):
                return False
            time.sleep(0.1)
    return False


def count_turns(engine, client_ids: list[str]) -> tuple[int, int]:
    """(lost, duplicated) over the acknowledged client ids: each must have one user message and
    exactly one reply after it, with a final status."""
    lost = duplicated = 0
    with engine.connect() as connection:
        for client_id in client_ids:
            rows = connection.execute(
                text("SELECT id, session_id, seq FROM chat_message WHERE client_message_id = :c"),
                {"c": client_id},
            ).all()
            if len(rows) != 1:
                lost += len(rows) == 0
                duplicated += len(rows) > 1
                continue
            _, session_id, seq = rows[0]
            replies = connection.execute(
                text(
                    "SELECT count(*) FROM chat_message WHERE session_id = :s AND seq = :n "
                    "AND role = 'assistant' AND status IN ('complete', 'stopped', 'error', 'interrupted')"
                ),
                {"s": session_id, "n": seq + 1},
            ).scalar()
            lost += replies == 0
        requests = connection.execute(
            text(
                "SELECT count(*) FROM (SELECT user_message_id FROM chat_request "
                "WHERE status = 'complete' GROUP BY user_message_id HAVING count(*) > 1) twice"
            )
        ).scalar()
        duplicated += requests
    return lost, duplicated


@pytest.mark.battery_area("database connections killed at random points, multi-turn chats")
def test_connections_killed_at_random_during_many_chats(pg_server, sessions, clean_db, battery_row) -> None:
    model = ScriptedModel(["one", " two", " three", " four"], delay=0.01)
    service = chat_service(sessions, model, max_turns_per_minute_per_user=1000)
    admin = create_engine(pg_server.sqlalchemy_url("chat_tests"), isolation_level="AUTOCOMMIT")
    users = [User(f"user{i}@example.com") for i in range(6)]
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    rng = random.Random(9)

    def killer() -> None:
        while not stop.wait(rng.uniform(0.05, 0.25)):
            with admin.connect() as connection:
                killed = connection.execute(
                    text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = :r"),
                    {"r": SUITE_APP_ROLE},
                ).scalar()
            with lock:
                battery_row.faults += killed or 0

    def chat(user: User) -> None:
        session = None
        for _ in range(8):
            try:
                session = service.create_session(user)
                break
            except Exception:
                time.sleep(0.1)
        assert session is not None
        for turn in range(5):
            client_id = f"{user.email}-{turn}-{uuid.uuid4().hex[:6]}"
            if submit_like_a_page(service, user, session.id, f"{CANARY_TEXT} turn {turn}", client_id):
                with lock:
                    acknowledged.append(client_id)
            wait_until_settled(service, user, session.id)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    workers = [threading.Thread(target=chat, args=(user,)) for user in users]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    stop.set()
    thread.join()
    admin.dispose()
    deadline = time.monotonic() + 10
    while service.runner.replies_waiting_for_the_database and time.monotonic() < deadline:
        time.sleep(0.2)
    battery_row.cases = len(users) * 5
    battery_row.acknowledged = len(acknowledged)
    battery_row.lost, battery_row.duplicated = count_turns(clean_db, acknowledged)
    assert battery_row.faults > 0
    assert (battery_row.lost, battery_row.duplicated) == (0, 0)


OUTAGE_SECONDS = 30


@pytest.mark.battery_area(f"a {OUTAGE_SECONDS} s database outage mid-conversation, with an app restart")
def test_a_database_outage_mid_reply_loses_nothing(
    pg_server, sessions, clean_db, battery_row, tmp_path
) -> None:
    outbox = tmp_path / "outbox"
    model = ScriptedModel(["kept", " through", " the", " outage"])
    model.release.clear()
    service = chat_service(sessions, model, outbox_dir=str(outbox))
    session = service.create_session(ALICE)
    client_id = f"outage-{uuid.uuid4()}"
    assert submit_like_a_page(service, ALICE, session.id, f"{CANARY_TEXT} outage", client_id)
    battery_row.acknowledged = 1
    admin = create_engine(pg_server.sqlalchemy_url(), isolation_level="AUTOCOMMIT")

    def outage(on: bool) -> None:
        with admin.connect() as connection:
            connection.execute(text(f"ALTER ROLE {SUITE_APP_ROLE} {'NOLOGIN' if on else 'LOGIN'}"))
            if on:
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                    {"r": SUITE_APP_ROLE},
                )

    deadline = time.monotonic() + 10
    while not model.calls:  # the reply is under way: the model has the question
        assert time.monotonic() < deadline
        time.sleep(0.01)
    running = service.open_request(ALICE, session.id)
    try:
        outage(True)
        battery_row.faults = 1
        started = time.monotonic()
        model.release.set()  # the reply finishes while the database refuses every connection
        buffer = service.runner.buffer_for(running.id) if running is not None else None
        if buffer is not None:
            buffer.wait(timeout=15)
            assert buffer.outcome is not None
            assert "Not saved yet" in (buffer.outcome.error_message or "")
        deadline = time.monotonic() + 15
        while not list(outbox.glob("*.json")):
            assert time.monotonic() < deadline, "the reply was not kept in the outbox"
            time.sleep(0.1)
        # The app restarts during the outage: a new runner over the same outbox folder.
        service.runner.shutdown()
        restarted = chat_service(sessions, ScriptedModel(), outbox_dir=str(outbox))
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
    finally:
        outage(False)
        admin.dispose()
    back = time.monotonic()
    while list(outbox.glob("*.json")):
        assert time.monotonic() - back < 5, (
            "the kept reply was not stored within 5 s of the database's return"
        )
        time.sleep(0.1)
    battery_row.cases = 1
    battery_row.lost, battery_row.duplicated = count_turns(clean_db, [client_id])
    reply = restarted.messages(ALICE, session.id)[-1]
    assert (reply.role, reply.status, reply.content) == ("assistant", "complete", "kept through the outage")
    assert (battery_row.lost, battery_row.duplicated) == (0, 0)


# Each fault the fake serving endpoint plays, and how the reply must end.
FAULT_ENDPOINTS = {
    "status-429": "error",
    "status-500": "error",
    "status-503": "error",
    "slow-first-token": "error",
    "malformed": "error",
    "error-event": "error",
    "cut-stream": "error",
    "empty": "error",
    "runaway": "stopped",  # cut at the chat's max tokens, on purpose
    "unreachable": "error",  # nothing listens at the workspace's address
}


@pytest.mark.battery_area(
    "model faults: 429, 5xx, no first token, malformed SSE, in-band error, cut, empty, runaway, unreachable"
)
def test_every_model_fault_ends_in_a_saved_reply_that_says_so(
    fake_serving, app_env, clean_db, battery_row
) -> None:
    from tests.e2e.conftest import free_port

    for endpoint, expected in FAULT_ENDPOINTS.items():
        host = f"http://127.0.0.1:{free_port()}" if endpoint == "unreachable" else fake_serving.url
        app_env.setenv("DATABRICKS_HOST", host)
        app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
        app_env.setenv("LLM_ENDPOINT", "chat" if endpoint == "unreachable" else endpoint)
        app_env.setenv("LLM_MAX_TOKENS", "32")
        app_env.setenv("MODEL_TITLES", "false")
        app_env.setenv("LLM_FIRST_TOKEN_TIMEOUT_SECONDS", "1")
        app = build_application(Settings(_env_file=None))
        try:
            session = app.chat.create_session(ALICE)
            client_id = f"fault-{endpoint}-{uuid.uuid4().hex[:6]}"
            app.chat.submit_message(
                ALICE, session.id, f"{CANARY_TEXT} {endpoint}", client_message_id=client_id
            )
            battery_row.acknowledged += 1
            wait_until_settled(app.chat, ALICE, session.id)
            question, reply = app.chat.messages(ALICE, session.id)
            battery_row.cases += 1
            battery_row.faults += 1
            if not (question.content.endswith(endpoint) and reply.status == expected and reply.error_message):
                battery_row.unexpected += 1
                battery_row.notes.append(f"{endpoint}: {reply.status}")
            lost, duplicated = count_turns(clean_db, [client_id])
            battery_row.lost += lost
            battery_row.duplicated += duplicated
        finally:
            app.close()
    assert (battery_row.lost, battery_row.duplicated, battery_row.unexpected) == (0, 0, 0), battery_row.notes


@pytest.mark.battery_area("shutdown (SIGTERM's path) mid-reply")
def test_shutdown_mid_reply_saves_what_was_written_as_interrupted(sessions, clean_db, battery_row) -> None:
    model = ScriptedModel(["partial", " text"] + [" more"] * 200, delay=0.02)
    service = chat_service(sessions, model)
    for round_number in range(3):
        session = service.create_session(ALICE)
        client_id = f"shutdown-{round_number}-{uuid.uuid4().hex[:6]}"
        result = service.submit_message(ALICE, session.id, "long answer please", client_message_id=client_id)
        battery_row.acknowledged += 1
        buffer = service.runner.buffer_for(result.request_id)
        wait_until(lambda buffer=buffer: buffer.text().startswith("partial"), what="the first words")
        service.runner.shutdown()  # what SIGTERM runs (atexit -> Application.close)
        battery_row.faults += 1
        battery_row.cases += 1
        reply = service.messages(ALICE, session.id)[-1]
        if not (reply.status == "interrupted" and reply.content.startswith("partial text")):
            battery_row.unexpected += 1
        lost, duplicated = count_turns(clean_db, [client_id])
        battery_row.lost += lost
        battery_row.duplicated += duplicated
        service = chat_service(sessions, model)
    assert (battery_row.lost, battery_row.duplicated, battery_row.unexpected) == (0, 0, 0)


def _tab(service, session_id, race, client_id, barrier, results, battery_row) -> None:
    """One browser tab's submit, started at the same moment as the other tab's."""
    barrier.wait()
    try:
        result = service.submit_message(ALICE, session_id, f"race {race}", client_message_id=client_id)
        results.append(client_id if not result.duplicate else "")
    except Exception as error:
        battery_row.unexpected += not is_clear_refusal(error)


@pytest.mark.battery_area("two tabs on one chat, 100 races")
def test_two_tabs_racing_on_one_chat_store_nothing_twice(sessions, clean_db, battery_row) -> None:
    service = chat_service(sessions, ScriptedModel(["ok"]), max_turns_per_minute_per_user=10_000)
    session = service.create_session(ALICE)
    acknowledged: list[str] = []
    for race in range(100):
        # Odd races: two tabs send different messages; even races: one tab's submit replayed.
        ids = [f"race-{race}-a", f"race-{race}-b"] if race % 2 else [f"race-{race}", f"race-{race}"]
        results: list[str] = []
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(
                target=_tab, args=(service, session.id, race, client_id, barrier, results, battery_row)
            )
            for client_id in ids
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        acknowledged += [r for r in results if r]
        wait_until_settled(service, ALICE, session.id)
    battery_row.cases = 100
    battery_row.acknowledged = len(acknowledged)
    battery_row.lost, battery_row.duplicated = count_turns(clean_db, acknowledged)
    with clean_db.connect() as connection:
        seqs = (
            connection.execute(
                text("SELECT seq FROM chat_message WHERE session_id = :s ORDER BY seq"), {"s": session.id}
            )
            .scalars()
            .all()
        )
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free
    assert (battery_row.lost, battery_row.duplicated, battery_row.unexpected) == (0, 0, 0)


@pytest.mark.battery_area("every operation with another user's ids")
def test_another_users_ids_open_nothing(sessions, clean_db, battery_row) -> None:
    service = chat_service(sessions, ScriptedModel(["private reply"]))
    history = HistoryService(transactions=sessions)
    files = ChatFiles(transactions=sessions)
    feedback = FeedbackService(transactions=sessions)
    admin = AdminService(transactions=sessions)
    session = service.create_session(ALICE)
    submitted = service.submit_message(ALICE, session.id, "alice's secret", client_message_id="alice-1")
    wait_until_settled(service, ALICE, session.id)
    reply_id = service.messages(ALICE, session.id)[-1].id
    feedback.rate(ALICE, reply_id, 1, "alice's comment")
    before = files.export_json(ALICE, session.id)
    sid, rid, mid = session.id, submitted.request_id, reply_id
    operations = {
        "get_session": lambda: service.get_session(BOB, sid),
        "messages": lambda: service.messages(BOB, sid),
        "update_model_settings": lambda: service.update_model_settings(
            BOB, sid, endpoint=None, temperature=1.0, max_tokens=10, system_prompt="x"
        ),
        "submit_message": lambda: service.submit_message(BOB, sid, "bob was here", client_message_id="bob-x"),
        "retry": lambda: service.retry(BOB, sid),
        "open_request": lambda: (service.open_request(BOB, sid) and None) or _refuse(),
        "stop": lambda: service.stop(BOB, rid) or _refuse(),
        "rename": lambda: history.rename(BOB, sid, "hijacked"),
        "pin": lambda: history.set_pinned(BOB, sid, True),
        "archive": lambda: history.set_archived(BOB, sid, True),
        "delete": lambda: history.delete(BOB, sid),
        "restore": lambda: history.restore(BOB, sid),
        "export_json": lambda: files.export_json(BOB, sid),
        "export_markdown": lambda: files.export_markdown(BOB, sid),
        "rate": lambda: feedback.rate(BOB, mid, -1, "bob's comment"),
        "ratings_in_session": lambda: feedback.ratings_in_session(BOB, sid) or _refuse(),
        "admin_view_session": lambda: admin.view_session(BOB, sid),
        "search": lambda: history.search(BOB, "secret", SessionFilters()) or _refuse(),
        "list_page": lambda: history.list_page(BOB, SessionFilters()).items or _refuse(),
    }
    for operation in operations.values():
        battery_row.cases += 1
        try:
            operation()
            battery_row.cross_user += 1
        except _Refused:
            pass
        except Exception as error:  # a refusal must be a clear message too
            battery_row.unexpected += not is_clear_refusal(error)
    assert files.export_json(ALICE, session.id) == before
    assert (battery_row.cross_user, battery_row.unexpected) == (0, 0)


class _Refused(Exception):
    """An operation that answered 'nothing there' (None, empty) to another user: a refusal."""


def _refuse() -> None:
    raise _Refused


@pytest.mark.battery_area("forwarded identity headers, trust matrix")
def test_the_header_trust_matrix(battery_row) -> None:
    local = Settings(_env_file=None, local_user_email="dev@local")
    app = Settings(_env_file=None, databricks_app_name="chat")
    proxied = Settings(_env_file=None, trust_forwarded_headers=True)
    cases = [
        # (settings, headers, expected user or None for refused)
        (local, {}, "dev@local"),
        (local, {"X-Forwarded-Email": "mallory@example.com"}, "dev@local"),
        (local, {"X-Forwarded-User": "mallory"}, "dev@local"),
        (app, {}, None),
        (app, {"X-Forwarded-Email": "alice@example.com"}, "alice@example.com"),
        (app, {"X-Forwarded-Email": "Alice@Example.COM"}, "alice@example.com"),
        (app, {"X-Forwarded-User": "svc-1@workspace"}, "svc-1@workspace"),
        (app, {"X-Forwarded-Email": ["a@example.com", "b@example.com"]}, None),
        (app, {"X-Forwarded-Email": "a@example.com, b@example.com"}, None),
        (app, {"X-Forwarded-Email": "  "}, None),
        (app, {"X-Forwarded-Email": "a@example.com\r\nX-Forwarded-Email: b@example.com"}, None),
        (app, {"X-Forwarded-Email": "a@example.com\x00"}, None),
        (app, {"X-Forwarded-Email": "a" * 400 + "@example.com"}, None),
        (proxied, {"X-Forwarded-Email": "bob@example.com"}, "bob@example.com"),
        (proxied, {}, None),
    ]
    for settings, headers, expected in cases:
        battery_row.cases += 1
        try:
            got: str | None = resolve_user(headers, settings).email
        except IdentityError:
            got = None
        if got != expected:
            battery_row.unexpected += 1
            battery_row.notes.append(f"{headers!r}: {got!r} != {expected!r}")
    assert battery_row.unexpected == 0, battery_row.notes


def bad_inputs(limit: int) -> list[str]:
    """At least 300 hostile strings: control and unpaired characters, bidi and zero-width marks,
    joined emoji, SQL/LIKE/tsquery metacharacters, HTML, empty, the length limit and one over, 1 MB."""
    atoms = [
        "\x00",
        "a\x00b",
        "\ud800",
        "\udfff",
        "x\ud83d",
        "\u202e",
        "\u2066abc\u2069",
        "\u200b",
        "\u200d",
        "\ufeff",
        "👨‍👩‍👧‍👦",
        "🏳️‍🌈",
        "👍🏽",
        "e\u0301",
        "'",
        '"',
        ";",
        "--",
        "/*",
        "*/",
        "%",
        "_",
        "\\",
        "' OR '1'='1",
        "'; DROP TABLE chat_message; --",
        "%%%",
        "a_b%c",
        "!",
        "&",
        "|",
        ":*",
        "<->",
        "(",
        ")",
        "!!!",
        "& | !",
        "<script>",
        "<img src=x>",
        "&lt;",
        "{{7*7}}",
        "${7*7}",
        "\r\n",
        "\t",
        " ",
    ]
    values = list(atoms)
    values += [f"hello {atom} world" for atom in atoms]
    values += [atom * 50 for atom in atoms]
    values += [atom + CANARY_TEXT for atom in atoms]
    values += [PAYLOADS[i % len(PAYLOADS)] + atoms[i % len(atoms)] for i in range(60)]
    values += [f"{first}{second}" for first in atoms[:10] for second in atoms[10:20]]
    values += ["", "x" * limit, "x" * (limit + 1), "y" * 1_000_000, " ".join(["term"] * 100_000)]
    return values


@pytest.mark.battery_area("generated bad input through every input")
def test_bad_input_through_every_input_gets_a_result_or_a_clear_message(
    sessions, clean_db, battery_row
) -> None:
    limit = 2_000
    service = chat_service(
        sessions, ScriptedModel(["fine"]), max_message_chars=limit, max_turns_per_minute_per_user=10_000
    )
    history = HistoryService(transactions=sessions)
    files = ChatFiles(transactions=sessions)
    feedback = FeedbackService(transactions=sessions)
    session = service.create_session(ALICE)
    service.submit_message(ALICE, session.id, "first", client_message_id="first")
    wait_until_settled(service, ALICE, session.id)
    reply_id = service.messages(ALICE, session.id)[-1].id
    inputs = bad_inputs(limit)
    assert len(inputs) >= 300

    def through_every_input(value: str, index: int) -> list[tuple[str, object]]:
        def submit() -> None:
            service.submit_message(ALICE, session.id, value, client_message_id=f"bad-{index}")
            wait_until_settled(service, ALICE, session.id)

        document = {
            "format": "lakebase-chat.session",
            "version": 1,
            "session": {"title": value[:5000], "model_endpoint": value[:100]},
            "messages": [{"seq": 1, "role": "user", "status": "complete", "content": value}],
        }
        return [
            ("submit", submit),
            ("rename", lambda: history.rename(ALICE, session.id, value)),
            ("comment", lambda: feedback.rate(ALICE, reply_id, 1, value)),
            ("search", lambda: history.search(ALICE, value, SessionFilters())),
            (
                "settings",
                lambda: service.update_model_settings(
                    ALICE,
                    session.id,
                    endpoint=value[:200] or None,
                    temperature=0.5,
                    max_tokens=100,
                    system_prompt=value,
                ),
            ),
            (
                "import",
                lambda: files.import_json(ALICE, json.dumps(document).encode("utf-8", "surrogatepass")),
            ),
        ]

    for index, value in enumerate(inputs):
        for name, operation in through_every_input(value, index):
            battery_row.cases += 1
            try:
                operation()
            except Exception as error:
                if not is_clear_refusal(error):
                    battery_row.unexpected += 1
                    battery_row.notes.append(f"{name}: {type(error).__name__}")
    # The database still answers every user normally afterwards.
    assert service.messages(ALICE, session.id)[0].content == "first"
    assert battery_row.unexpected == 0, battery_row.notes[:10]


IMAGE_SYNTAX = re.compile(r"(?<!\\)!\[")


@pytest.mark.battery_area("markup payloads in messages, replies, titles and model names (AppTest)")
def test_markup_payloads_render_inert_on_every_page(app_env, clean_db, battery_row) -> None:
    from streamlit.testing.v1 import AppTest

    from components.markup import _CODE
    from components.runtime import close_cached_application
    from tests.conftest import PROJECT_ROOT

    files = ChatFiles(transactions=session_factory(clean_db))
    developer = User("developer@localhost")
    messages = [
        {
            "seq": i + 1,
            "role": ("user", "assistant")[i % 2],
            "status": "complete",
            "content": payload,
            "model": payload if i % 2 else None,
        }
        for i, payload in enumerate(PAYLOADS * 2)
    ]
    document = {
        "format": "lakebase-chat.session",
        "version": 1,
        "session": {"title": PAYLOADS[0]},
        "messages": messages,
    }
    chat_id = files.import_json(developer, json.dumps(document).encode())
    for payload in PAYLOADS[:20]:
        titled = {**document, "session": {"title": payload}, "messages": messages[:2]}
        files.import_json(developer, json.dumps(titled).encode())
    try:
        for page, query in (("app_pages/chat.py", {"session": str(chat_id)}), ("app_pages/history.py", {})):
            app = AppTest.from_file(str(PROJECT_ROOT / "Home.py"), default_timeout=60)
            for key, value in query.items():
                app.query_params[key] = value
            app.switch_page(page)
            app.run()
            assert not app.exception
            shown = [
                e.value
                for kind in ("markdown", "caption", "title", "subheader", "info")
                for e in getattr(app, kind)
            ]
            battery_row.cases += len(PAYLOADS) * 2 if page.endswith("chat.py") else 20
            for value in shown:
                prose = _CODE.sub("", str(value))
                if IMAGE_SYNTAX.search(prose):
                    battery_row.unexpected += 1
                    battery_row.notes.append(f"{page}: {str(value)[:80]!r}")
    finally:
        close_cached_application()
    assert battery_row.unexpected == 0, battery_row.notes[:5]


@pytest.mark.battery_area("canary secrets and text in every log line of the battery")
def test_no_canary_reaches_the_logs(fake_serving, app_env, clean_db, caplog, battery_row) -> None:
    caplog.set_level(logging.DEBUG)
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", CANARY_TOKEN)  # refused by the fake: an auth failure, logged
    app_env.setenv("LLM_ENDPOINT", "chat")
    app_env.setenv("MODEL_TITLES", "false")
    app = build_application(Settings(_env_file=None))
    try:
        session = app.chat.create_session(ALICE)
        app.chat.submit_message(
            ALICE, session.id, f"{CANARY_TEXT} \ud800 secret", client_message_id="canary-1"
        )
        wait_until_settled(app.chat, ALICE, session.id)
        with pytest.raises(UserError):
            app.files.import_json(ALICE, b"{" + CANARY_TEXT.encode() + b"}")
        battery_row.cases = 3
        battery_row.faults = 1
    finally:
        app.close()
    logged = caplog.text + "\n".join(BATTERY_LOG)  # this test's lines, and every earlier battery test's
    battery_row.cases += len(BATTERY_LOG)
    battery_row.unexpected = (CANARY_TEXT in logged) + (CANARY_TOKEN in logged)
    assert battery_row.unexpected == 0
