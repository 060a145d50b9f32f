import threading
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

from persistence.database import unit_of_work
from persistence.orm import ChatMessageRow, ChatRequestRow, ChatSessionRow
from persistence.repositories import MessageRepository, RequestRepository, SessionRepository
from services.chat import PageQuery
from services.errors import SessionNotFound, TurnInProgress
from services.text import InvalidMessage
from services.titles import title_from_message
from tests.fakes.models import ScriptedModel
from tests.integration.helpers import (
    ALICE,
    BOB,
    chat_service,
    checkouts_by_this_thread,
    wait_for_reply,
    wait_until,
)

pytestmark = pytest.mark.integration


def count(sessions, model) -> int:
    with unit_of_work(sessions) as db:
        return db.scalar(select(func.count()).select_from(model))


def test_a_turn_saves_the_question_and_the_reply_with_its_figures(sessions) -> None:
    service = chat_service(sessions)
    session = service.create_session(ALICE)
    result = service.submit_message(ALICE, session.id, "What is Lakebase?", client_message_id="c-1")
    wait_for_reply(service, ALICE, session.id)
    messages = service.messages(ALICE, session.id)
    assert [(m.seq, m.role, m.content, m.status) for m in messages] == [
        (1, "user", "What is Lakebase?", "complete"),
        (2, "assistant", "Hello there!", "complete"),
    ]
    reply = messages[1]
    assert reply.model == "scripted"
    assert (reply.prompt_tokens, reply.completion_tokens) == (7, 3)
    assert reply.time_to_first_token_ms is not None
    assert reply.latency_ms >= reply.time_to_first_token_ms
    assert service.get_session(ALICE, session.id).title == "What is Lakebase?"
    with unit_of_work(sessions) as db:
        request = db.get(ChatRequestRow, result.request_id)
        assert request.status == "complete"
        assert request.finished_at is not None
        assert request.assistant_message_id == reply.id


def test_the_same_client_message_id_twice_stores_nothing_twice(sessions) -> None:
    service = chat_service(sessions)
    session = service.create_session(ALICE)
    first = service.submit_message(ALICE, session.id, "once", client_message_id="same-id")
    wait_for_reply(service, ALICE, session.id)
    second = service.submit_message(ALICE, session.id, "once", client_message_id="same-id")
    assert second.duplicate
    assert second.request_id == first.request_id
    assert count(sessions, ChatRequestRow) == 1
    assert [m.role for m in service.messages(ALICE, session.id)] == ["user", "assistant"]


def test_another_users_session_answers_exactly_like_a_missing_one(sessions) -> None:
    service = chat_service(sessions)
    alices = service.create_session(ALICE)
    service.submit_message(ALICE, alices.id, "private", client_message_id="a-1")
    wait_for_reply(service, ALICE, alices.id)
    missing = uuid.uuid4()
    for session_id in (alices.id, missing):
        with pytest.raises(SessionNotFound) as caught:
            service.get_session(BOB, session_id)
        assert str(caught.value) == SessionNotFound.user_message  # the same answer for both
        with pytest.raises(SessionNotFound):
            service.messages(BOB, session_id)
        with pytest.raises(SessionNotFound):
            service.latest_messages(BOB, session_id, limit=5)
        with pytest.raises(SessionNotFound):
            service.submit_message(BOB, session_id, "intrude", client_message_id=str(uuid.uuid4()))
        with pytest.raises(SessionNotFound):
            service.update_model_settings(
                BOB, session_id, endpoint="x", temperature=1.0, max_tokens=10, system_prompt=""
            )
        with pytest.raises(SessionNotFound):
            service.retry(BOB, session_id)
    assert service.recent_sessions(BOB) == []
    assert service.dashboard(BOB).messages_this_week == 0
    assert service.messages(ALICE, alices.id)[0].content == "private"


def test_bad_input_is_refused_before_anything_is_saved(sessions) -> None:
    service = chat_service(sessions, max_message_chars=50)
    session = service.create_session(ALICE)
    for text in ("", "   \n", "x" * 51):
        with pytest.raises(InvalidMessage):
            service.submit_message(ALICE, session.id, text, client_message_id=str(uuid.uuid4()))
    assert count(sessions, ChatMessageRow) == 0
    assert service.messages(ALICE, session.id) == []


def test_nul_and_lone_surrogates_are_stored_safely_with_a_notice(sessions) -> None:
    model = ScriptedModel(["bad\x00", " reply \udc80"])
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    result = service.submit_message(ALICE, session.id, "nul\x00 and \ud83d alone", client_message_id="n-1")
    wait_for_reply(service, ALICE, session.id)
    assert result.notices
    assert "replaced" in result.notices[0]
    messages = service.messages(ALICE, session.id)
    assert messages[0].content == "nul\ufffd and \ufffd alone"
    assert messages[1].content == "bad\ufffd reply \ufffd"
    assert messages[1].status == "complete"


def test_a_second_message_waits_for_the_reply_in_progress(sessions) -> None:
    model = ScriptedModel()
    model.release.clear()
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    service.submit_message(ALICE, session.id, "first", client_message_id="w-1")
    with pytest.raises(TurnInProgress):
        service.submit_message(ALICE, session.id, "second", client_message_id="w-2")
    model.release.set()
    wait_for_reply(service, ALICE, session.id)
    service.submit_message(ALICE, session.id, "second", client_message_id="w-2")
    wait_for_reply(service, ALICE, session.id)
    assert [m.seq for m in service.messages(ALICE, session.id)] == [1, 2, 3, 4]


def test_sequence_numbers_are_gap_free_with_two_concurrent_writers(sessions) -> None:
    with unit_of_work(sessions) as db:
        session = SessionRepository(db, owner_id=ALICE.email).add(ChatSessionRow(title="race"))
        db.commit()
        session_id = session.id
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for index in range(40):
                with unit_of_work(sessions) as db:
                    SessionRepository(db, owner_id=ALICE.email).get_for_update(session_id)
                    MessageRepository(db, owner_id=ALICE.email).append(
                        ChatMessageRow(
                            session_id=session_id, role="user", content=f"{name}{index}", status="complete"
                        )
                    )
                    if index % 10 == 9:
                        db.rollback()  # an abandoned write must leave no gap
                        continue
                    db.commit()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with unit_of_work(sessions) as db:
        seqs = db.scalars(
            select(ChatMessageRow.seq)
            .where(ChatMessageRow.session_id == session_id)
            .order_by(ChatMessageRow.seq)
        ).all()
    assert seqs == list(range(1, 73))


def test_a_turn_waiting_for_the_users_turn_lock_holds_no_lock_on_its_chat(sessions) -> None:
    # Submit and retry take the user's turn lock before the chat's row lock, as every use case that
    # takes both must: one that held the row while it waited for the turn lock could deadlock with
    # one that holds the turn lock and wants the row.
    service = chat_service(sessions, ScriptedModel(["Hi"]))
    chat = service.submit_message(ALICE, None, "Hello", client_message_id="wait-0").session_id
    wait_for_reply(service, ALICE, chat)
    attempts = {
        "submit": lambda: service.submit_message(ALICE, chat, "Again", client_message_id="wait-1"),
        "retry": lambda: service.retry(ALICE, chat),
    }
    for name, attempt in attempts.items():
        errors: list[BaseException] = []

        def run(attempt=attempt, errors=errors) -> None:
            try:
                attempt()
            except BaseException as error:
                errors.append(error)

        with unit_of_work(sessions) as holder:
            RequestRepository(holder, owner_id=ALICE.email).lock_turns_of_user()
            waiting = threading.Thread(target=run)
            waiting.start()
            with unit_of_work(sessions) as observer:
                wait_until(
                    lambda: (
                        observer.scalar(
                            sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                        )
                        == 1
                    )
                )
            with unit_of_work(sessions) as other:
                other.execute(sql("SET LOCAL lock_timeout = '200ms'"))
                locked = SessionRepository(other, owner_id=ALICE.email).get_for_update(chat)
                assert locked is not None, name
            holder.rollback()
        waiting.join(timeout=10)
        assert errors == [], name
        wait_for_reply(service, ALICE, chat)
    assert [m.content for m in service.messages(ALICE, chat)] == ["Hello", "Hi", "Again", "Hi", "Hi"]


def test_each_message_counts_on_its_chat_with_a_preview_and_the_first_one_names_it(sessions) -> None:
    """The message's INSERT also updates its chat and adds its request (one statement): count,
    preview, title and time on the chat; the request for its reply, started."""
    service = chat_service(sessions, ScriptedModel(["Hello", " there!"]))
    question = "Why " + "is it so " * 40
    first = service.submit_message(ALICE, None, question, client_message_id="count-1")
    with unit_of_work(sessions) as db:
        chat = db.get(ChatSessionRow, first.session_id)
        assert chat is not None
        assert (chat.message_count, chat.last_message_preview) == (1, question[:200])
        assert chat.title == title_from_message(question)
        asked_at = chat.updated_at
        stored = db.get(ChatMessageRow, first.user_message_id)
        assert stored is not None
        assert (stored.seq, stored.imported, stored.superseded) == (1, False, False)
        request = db.get(ChatRequestRow, first.request_id)  # inserted by the same statement
        assert request is not None
        assert (request.user_id, request.session_id, request.user_message_id) == (
            ALICE.email,
            first.session_id,
            first.user_message_id,
        )
        assert request.started_at is not None
    wait_for_reply(service, ALICE, first.session_id)
    with unit_of_work(sessions) as db:
        chat = db.get(ChatSessionRow, first.session_id)
        assert chat is not None
        assert (chat.message_count, chat.last_message_preview) == (2, "Hello there!")
        assert chat.title == title_from_message(question)  # only the first message names a chat
        assert chat.updated_at > asked_at


def test_titles_come_from_the_first_message() -> None:
    assert title_from_message("  Short   question\nwith lines ") == "Short question with lines"
    long_title = title_from_message("word " * 40)
    assert len(long_title) <= 61
    assert long_title.endswith("…")


def test_per_session_model_settings_are_validated_and_used(sessions) -> None:
    model = ScriptedModel()
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    updated = service.update_model_settings(
        ALICE, session.id, endpoint="my-endpoint", temperature=0.2, max_tokens=99, system_prompt="Be terse."
    )
    effective = service.effective_model_settings(updated)
    assert (effective.endpoint, effective.temperature, effective.max_tokens) == ("my-endpoint", 0.2, 99)
    service.submit_message(ALICE, session.id, "hi", client_message_id="s-1")
    wait_for_reply(service, ALICE, session.id)
    # A chat's first message: its prompt is made without reading the chat's history.
    assert [(m.role, m.content) for m in model.calls[0]] == [("system", "Be terse."), ("user", "hi")]
    assert service.messages(ALICE, session.id)[1].model == "my-endpoint"


def test_a_submit_can_read_the_page_as_it_is_after_it(sessions) -> None:
    model = ScriptedModel()
    service = chat_service(sessions, model)
    model.release.clear()  # the reply waits, so the page is read before it is stored
    first, page = service.submit_and_read_page(
        ALICE, None, "First question", client_message_id="read-1", query=PageQuery(20, 2)
    )
    # A new chat: made by the submit, named by its question, listed first, holding only the question.
    assert page is not None
    assert page.session is not None
    assert page.session.id == first.session_id
    assert page.session.title == "First question"
    assert [item.id for item in page.recent][:1] == [first.session_id]
    assert [(m.role, m.content) for m in page.messages] == [("user", "First question")]
    assert (page.earlier, page.open_request) == (0, None)
    # Made from what the submit wrote, without reading the chat back: the same as a read of it.
    assert page == service.page(ALICE, first.session_id, PageQuery(20, 2), look_for_open_request=False)
    model.release.set()
    wait_for_reply(service, ALICE, first.session_id)

    second, page = service.submit_and_read_page(
        ALICE, first.session_id, "Second question", client_message_id="read-2", query=PageQuery(20, 2)
    )
    # The newest two of three messages, and how many are left out: as `page` reads them.
    assert page is not None
    assert [(m.role, m.content) for m in page.messages] == [
        ("assistant", "Hello there!"),
        ("user", "Second question"),
    ]
    assert page.messages[-1].id == second.user_message_id
    assert page.earlier == 1
    wait_for_reply(service, ALICE, first.session_id)

    # A replay stores nothing new and reads nothing: the page run reads the page itself.
    replay, page = service.submit_and_read_page(
        ALICE, first.session_id, "Second question", client_message_id="read-2", query=PageQuery(20, 2)
    )
    assert replay.duplicate
    assert page is None


def test_a_submit_and_its_page_read_take_one_connection_from_the_pool(sessions) -> None:
    """The read after the commit stays on the submit's connection: no second checkout, so no second
    liveness check (a round trip) while page runs compete for the core. The commit still commits."""
    model = ScriptedModel()
    service = chat_service(sessions, model)
    model.release.clear()  # the turn's own connection use waits until the submit is counted
    with checkouts_by_this_thread(sessions) as checkouts:
        result, page = service.submit_and_read_page(
            ALICE, None, "One connection", client_message_id="one-connection-1", query=PageQuery(20, 10)
        )
    assert len(checkouts) == 1
    assert page is not None
    assert page.messages[0].id == result.user_message_id
    # Committed, not just visible on its own connection: another transaction sees the question.
    with unit_of_work(sessions) as db:
        stored = db.get(ChatMessageRow, result.user_message_id)
        assert stored is not None
        assert stored.content == "One connection"
    model.release.set()
    wait_for_reply(service, ALICE, result.session_id)


def test_the_model_is_called_before_the_page_is_read(sessions) -> None:
    """The read overlaps the model's wait for its first token: while it cannot finish (another
    transaction holds the ratings table), the model has already been asked."""
    model = ScriptedModel()
    service = chat_service(sessions, model)
    chat = service.submit_message(ALICE, None, "First question", client_message_id="early-0").session_id
    wait_for_reply(service, ALICE, chat)
    read: list[object] = []
    with unit_of_work(sessions) as blocker:
        blocker.execute(sql("LOCK TABLE feedback IN ACCESS EXCLUSIVE MODE"))
        submitting = threading.Thread(
            target=lambda: read.append(
                service.submit_and_read_page(
                    ALICE, chat, "Quick question", client_message_id="early-1", query=PageQuery(20, 10)
                )
            )
        )
        submitting.start()
        wait_until(lambda: len(model.calls) == 2, what="the model call")
        assert not read  # the page read is still waiting for the lock
    submitting.join(10)
    ((result, page),) = read
    assert page is not None
    assert page.messages[-1].id == result.user_message_id
    wait_for_reply(service, ALICE, result.session_id)
