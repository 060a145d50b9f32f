import threading
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import CacheStats

from persistence.database import build_engine, session_factory, unit_of_work
from persistence.orm import ChatRequestRow
from services.chat import ChatService, PageQuery
from services.errors import UserError
from services.model_clients.port import ModelError, ModelErrorKind, TextDelta
from tests.fakes.models import ScriptedModel
from tests.integration.helpers import (
    ALICE,
    chat_service,
    leave_as_a_dead_process_would,
    wait_for_reply,
    wait_until,
)

pytestmark = pytest.mark.integration

# What `open_request` stands for while no request is open yet.
EMPTY_REQUEST = SimpleNamespace(partial_text="")


def test_a_model_error_keeps_the_question_and_retry_answers_it(sessions) -> None:
    model = ScriptedModel(["partial", " words", " more"], fail_after=2)
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    service.submit_message(ALICE, session.id, "Will this fail?", client_message_id="e-1")
    wait_for_reply(service, ALICE, session.id)
    messages = service.messages(ALICE, session.id)
    assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "error")]
    assert messages[0].content == "Will this fail?"
    assert messages[1].content == "partial words"  # what streamed before the error is kept
    assert messages[1].error_message == "The test model failed (500). Press Retry."

    model.fail_after = None
    service.retry(ALICE, session.id)
    wait_for_reply(service, ALICE, session.id)
    messages = service.messages(ALICE, session.id)
    assert [(m.role, m.status) for m in messages][-1] == ("assistant", "complete")
    # The retry answered the same question, without the failed reply in its context.
    assert [m.content for m in model.calls[1] if m.role != "system"] == ["Will this fail?"]


def test_stop_keeps_what_was_written_as_stopped(sessions) -> None:
    model = ScriptedModel([f"w{i} " for i in range(200)], delay=0.01)
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    result = service.submit_message(ALICE, session.id, "long answer please", client_message_id="s-1")
    wait_until(lambda: service.runner.buffer_for(result.request_id).text().startswith("w0 w1 "))
    assert service.stop(ALICE, result.request_id)
    wait_for_reply(service, ALICE, session.id)
    reply = service.messages(ALICE, session.id)[-1]
    assert reply.status == "stopped"
    assert reply.content.startswith("w0 w1 ")
    assert len(reply.content.split()) < 200


def test_partial_text_is_checkpointed_while_the_reply_streams(sessions) -> None:
    model = ScriptedModel([f"w{i} " for i in range(100)], delay=0.01)
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    service.submit_message(ALICE, session.id, "stream", client_message_id="k-1")
    wait_until(
        lambda: (service.open_request(ALICE, session.id) or EMPTY_REQUEST).partial_text.startswith("w0 w1 "),
        what="a checkpoint of the first words",
    )
    request = service.open_request(ALICE, session.id)
    assert request is not None
    assert request.status == "streaming"
    assert request.partial_text.startswith("w0 w1 ")
    wait_for_reply(service, ALICE, session.id)


def test_the_turn_finishes_when_no_page_is_reading_it(sessions) -> None:
    """A rerun or a closed tab stops the page script; the runner finishes and saves the reply anyway."""
    model = ScriptedModel([f"w{i} " for i in range(30)], delay=0.005)
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    result = service.submit_message(ALICE, session.id, "nobody reads", client_message_id="r-1")
    buffer = service.runner.buffer_for(result.request_id)
    # A page that read two batches and then went away (its generator is simply dropped).
    reader = buffer.stream_batches(interval_seconds=0.01)
    next(reader)
    del reader
    wait_for_reply(service, ALICE, session.id)
    assert service.messages(ALICE, session.id)[-1].content == "".join(f"w{i} " for i in range(30))


def test_start_up_closes_requests_left_open_by_a_dead_process(sessions) -> None:
    model = ScriptedModel()
    model.release.clear()
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    result = service.submit_message(ALICE, session.id, "crash", client_message_id="d-1")
    leave_as_a_dead_process_would(sessions, result.request_id, "half a rep")
    fresh_process = chat_service(sessions, ScriptedModel())
    assert fresh_process.runner.recover_interrupted() == 1
    messages = fresh_process.messages(ALICE, session.id)
    assert (messages[-1].status, messages[-1].content) == ("interrupted", "half a rep")
    with unit_of_work(sessions) as db:
        assert db.get(ChatRequestRow, result.request_id).status == "interrupted"
    model.release.set()  # the "dead" runner's thread finds its request closed and saves nothing more
    wait_until(lambda: not service.runner.is_running(result.request_id), what="the old runner to finish")
    assert len(fresh_process.messages(ALICE, session.id)) == 2


def test_recovery_leaves_a_reply_that_is_still_being_written(sessions) -> None:
    model = ScriptedModel()
    model.release.clear()
    service = chat_service(sessions, model)
    session = service.create_session(ALICE)
    service.submit_message(ALICE, session.id, "alive", client_message_id="l-1")
    other_process = chat_service(sessions, ScriptedModel())
    assert other_process.runner.recover_interrupted() == 0
    model.release.set()
    wait_for_reply(service, ALICE, session.id)
    assert service.messages(ALICE, session.id)[-1].status == "complete"


def first_reply_with_titles(sessions, model: ScriptedModel, question: str) -> tuple[ChatService, uuid.UUID]:
    """A new chat with model titles on, after its first reply: the service and the chat's id."""
    service = chat_service(sessions, model, model_titles=True)
    session = service.create_session(ALICE)
    service.submit_message(ALICE, session.id, question, client_message_id=str(uuid.uuid4()))
    wait_for_reply(service, ALICE, session.id)
    return service, session.id


def test_the_model_writes_a_short_title_after_the_first_reply(sessions) -> None:
    model = ScriptedModel(['"Weekend', " in", " Lisbon.", '"'])
    service, session_id = first_reply_with_titles(sessions, model, "plan a long weekend in lisbon please")
    wait_until(lambda: service.get_session(ALICE, session_id).title == "Weekend in Lisbon", what="the title")
    assert "title" in model.calls[1][0].content  # the second call asked for a title
    # Later turns do not retitle.
    second = service.submit_message(ALICE, session_id, "and Porto?", client_message_id="t-2")
    # The runner is done with the turn, and a title it asked for would be pending from before then.
    wait_until(lambda: not service.runner.is_running(second.request_id), what="the turn to end")
    assert service.runner.titles_pending == 0
    assert len(model.calls) == 3


class SlowTitles(ScriptedModel):
    """Answers turns at once; a request for a title waits until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__(["Lisbon", " trip"])
        self.title_asked = threading.Event()
        self.title_may_answer = threading.Event()

    def stream_chat(self, messages, params, *, user_token=None):
        if "title" in messages[0].content:
            self.title_asked.set()
            self.title_may_answer.wait(10)
        return super().stream_chat(messages, params, user_token=user_token)


def test_a_title_being_written_holds_up_no_reply(sessions) -> None:
    # One turn worker: if the title were written on the worker, the next reply would wait for it.
    model = SlowTitles()
    service = chat_service(sessions, model, model_titles=True, turn_workers=1)
    first = service.submit_message(ALICE, None, "a weekend in lisbon", client_message_id="s-1")
    wait_for_reply(service, ALICE, first.session_id)
    assert model.title_asked.wait(5)
    second = service.submit_message(ALICE, first.session_id, "and Porto?", client_message_id="s-2")
    wait_for_reply(service, ALICE, second.session_id, timeout=5)
    assert service.messages(ALICE, second.session_id)[-1].status == "complete"
    assert service.runner.titles_pending == 1  # still waiting for the model
    model.title_may_answer.set()
    wait_until(lambda: service.get_session(ALICE, first.session_id).title == "Lisbon trip", what="the title")
    wait_until(lambda: service.runner.titles_pending == 0, what="the title writer to finish")


class FailsOnTitles(ScriptedModel):
    """Answers turns, and fails every request for a title, with a signal once it has failed one."""

    def __init__(self) -> None:
        super().__init__(["only", " words"])
        self.title_refused = threading.Event()

    def stream_chat(self, messages, params, *, user_token=None):
        if "title" in messages[0].content:
            self.title_refused.set()
            raise ModelError(ModelErrorKind.SERVER, "The test model failed (500). Press Retry.")
        return super().stream_chat(messages, params, user_token=user_token)


class RamblingTitles(ScriptedModel):
    """Answers turns; asked for a title, writes it on a line and goes on until cut at the limit."""

    def __init__(self) -> None:
        super().__init__(["only", " words"])

    def stream_chat(self, messages, params, *, user_token=None):
        if "title" not in messages[0].content:
            return super().stream_chat(messages, params, user_token=user_token)

        def rambling():
            yield TextDelta("Weekend in Lisbon\n")
            yield TextDelta("This conversation is about")
            raise ModelError(ModelErrorKind.LENGTH_LIMIT, "The test model stopped at the limit.")

        return rambling()


def test_a_title_cut_at_its_token_limit_keeps_its_first_line(sessions) -> None:
    model = RamblingTitles()
    service, session_id = first_reply_with_titles(sessions, model, "a long weekend in lisbon")
    wait_until(lambda: service.get_session(ALICE, session_id).title == "Weekend in Lisbon", what="the title")


def test_a_failed_model_title_keeps_the_first_message_title(sessions) -> None:
    model = FailsOnTitles()
    service, session_id = first_reply_with_titles(sessions, model, "first question")
    assert model.title_refused.wait(5)  # the runner asked for a title, and was refused
    assert service.get_session(ALICE, session_id).title == "first question"
    assert service.messages(ALICE, session_id)[-1].status == "complete"


def test_a_turn_that_ended_before_its_page_looked_still_shows_how_it_ended(sessions) -> None:
    # A model that fails at once can end the turn before the page that started it asks for its
    # buffer; that page must still find it, with its outcome, rather than showing no reply at all.
    model = ScriptedModel(["never"], fail_after=0)
    service = chat_service(sessions, model)
    result = service.submit_message(ALICE, None, "fail fast", client_message_id="f-1")
    wait_until(lambda: not service.runner.is_running(result.request_id), what="the turn to end")
    buffer = service.runner.buffer_for(result.request_id)
    assert buffer is not None
    assert buffer.outcome is not None
    assert buffer.outcome.status == "error"
    assert buffer.outcome.error_message == "The test model failed (500). Press Retry."


def test_an_edited_question_replaces_the_old_one_in_every_later_prompt(sessions) -> None:
    model = ScriptedModel(["an", " answer"])
    service = chat_service(sessions, model)
    first = service.submit_message(ALICE, None, "Plan a trip to Lisbn", client_message_id="x-1")
    wait_for_reply(service, ALICE, first.session_id)
    edited = service.submit_message(
        ALICE,
        first.session_id,
        "Plan a trip to Lisbon",
        client_message_id="x-2",
        replacing=first.user_message_id,
    )
    wait_for_reply(service, ALICE, first.session_id)
    assert [m.content for m in model.calls[-1] if m.role != "system"] == ["Plan a trip to Lisbon"]
    assert service.get_session(ALICE, first.session_id).title == "Plan a trip to Lisbon"  # it named the chat
    service.submit_message(ALICE, first.session_id, "And Porto?", client_message_id="x-3")
    wait_for_reply(service, ALICE, first.session_id)
    assert [m.content for m in model.calls[-1] if m.role != "system"] == [
        "Plan a trip to Lisbon",
        "an answer",
        "And Porto?",
    ]
    # Only the latest question can be replaced: an older one is refused, and nothing changes.
    with pytest.raises(UserError, match="Only your latest message can be edited"):
        service.submit_message(
            ALICE, first.session_id, "Lisbon again", client_message_id="x-4", replacing=edited.user_message_id
        )
    assert [m.superseded for m in service.messages(ALICE, first.session_id)] == [True, True] + [False] * 4


class _StatementsByThread:
    """Counts the statements each thread sends through an engine."""

    def __init__(self, engine) -> None:
        self.counts: dict[str, int] = {}
        event.listen(engine, "before_cursor_execute", self._count)
        self._engine = engine

    def _count(self, *_event: object) -> None:
        name = threading.current_thread().name
        self.counts[name] = self.counts.get(name, 0) + 1

    def turn_workers(self) -> int:
        return sum(count for name, count in self.counts.items() if name.startswith("turn-"))

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._count)


def test_a_new_message_reaches_the_model_without_another_database_read(sessions) -> None:
    # The submit's own transaction prepares the turn (history, settings, the request marked
    # streaming), so the worker calls the model at once: bench/load showed that a second transaction
    # there was about a third of the time the app added to the first token.
    statements = _StatementsByThread(sessions.kw["bind"])
    before_submit: list[int] = []
    seen_at_call: list[int] = []  # statements the turn workers sent between the submit and the call

    class CountingModel(ScriptedModel):
        def stream_chat(self, messages, params, *, user_token=None):
            seen_at_call.append(statements.turn_workers() - before_submit[-1])
            return super().stream_chat(messages, params, user_token=user_token)

    model = CountingModel(["Hi", " there"])
    service = chat_service(sessions, model)
    try:
        before_submit.append(statements.turn_workers())
        first = service.submit_message(ALICE, None, "Hello", client_message_id="p-1")
        with unit_of_work(sessions) as db:
            request = db.get(ChatRequestRow, first.request_id)
            assert request.status in {"streaming", "complete"}
            assert request.started_at is not None
        wait_for_reply(service, ALICE, first.session_id)
        assert statements.turn_workers() > before_submit[-1]  # the counter sees the worker storing the reply
        before_submit.append(statements.turn_workers())
        service.submit_message(ALICE, first.session_id, "And again?", client_message_id="p-2")
        wait_for_reply(service, ALICE, first.session_id)
    finally:
        statements.close()
    assert seen_at_call == [0, 0]
    assert [m.content for m in model.calls[1] if m.role != "system"] == ["Hello", "Hi there", "And again?"]


def test_a_submit_is_five_statements_and_a_new_chats_first_is_three(sessions) -> None:
    # Every statement is a round trip, and a submit's all come before the model is called: the
    # user's turn lock with the client id's lookup, the chat's row lock, the chat's and user's open
    # turns in one read, the message with the chat's count and title and its request, and the
    # history. A chat's first message has no row to lock and no history, and its statement makes the
    # chat too (bench/load).
    statements = _StatementsByThread(sessions.kw["bind"])
    service = chat_service(sessions, ScriptedModel(["Hi"]))
    sent = []
    try:
        session_id = None
        for number, text in enumerate(["Hello", "And again?"]):
            before = statements.counts.get(threading.current_thread().name, 0)
            result = service.submit_message(ALICE, session_id, text, client_message_id=f"n-{number}")
            sent.append(statements.counts[threading.current_thread().name] - before)
            session_id = result.session_id
            wait_for_reply(service, ALICE, session_id)
        # A new chat's page after its submit: only the sidebar's chats are read.
        before = statements.counts[threading.current_thread().name]
        result, _ = service.submit_and_read_page(
            ALICE, None, "A new chat", client_message_id="n-new", query=PageQuery(20, 50)
        )
        sent.append(statements.counts[threading.current_thread().name] - before)
        wait_for_reply(service, ALICE, result.session_id)
    finally:
        statements.close()
    assert sent == [3, 5, 4]


def test_the_runner_hands_the_stored_reply_to_the_page(sessions) -> None:
    service = chat_service(sessions, ScriptedModel(["Stored", " once"]))
    result = service.submit_message(ALICE, None, "Hello", client_message_id="h-1")
    wait_for_reply(service, ALICE, result.session_id)
    stored = service.runner.buffer_for(result.request_id).stored_reply
    assert stored == service.messages(ALICE, result.session_id)[-1]
    assert (stored.content, stored.status, stored.seq) == ("Stored once", "complete", 2)


def test_a_replayed_submit_starts_a_turn_its_first_attempt_never_started(sessions, monkeypatch) -> None:
    # The first attempt committed, then failed before handing the turn to the runner (a lost
    # connection; submit_message is repeated by retry_on_disconnect): the replay must start it.
    service = chat_service(sessions, ScriptedModel(["Answered"]))
    session = service.create_session(ALICE)
    start = service.runner.start
    monkeypatch.setattr(service.runner, "start", lambda *args, **kwargs: None)
    first = service.submit_message(ALICE, session.id, "Still there?", client_message_id="r-1")
    monkeypatch.setattr(service.runner, "start", start)
    assert not service.runner.is_running(first.request_id)
    replay = service.submit_message(ALICE, session.id, "Still there?", client_message_id="r-1")
    assert replay.duplicate
    assert replay.request_id == first.request_id
    wait_for_reply(service, ALICE, session.id)
    assert [(m.role, m.content) for m in service.messages(ALICE, session.id)] == [
        ("user", "Still there?"),
        ("assistant", "Answered"),
    ]


def test_a_warm_up_leaves_nothing_behind_and_builds_the_first_turns_statements(
    clean_db, database_url
) -> None:
    """ChatService.warm_up runs a new chat's turn, the turn after it and a chat page once, and rolls
    them back, then reads a home page: afterwards the database holds nothing of it, and the first
    real turns and pages build no SQL (SQLAlchemy keeps what it built per engine, so this test has an
    engine of its own)."""
    engine = build_engine(database_url)
    built: list[str] = []
    page_run = threading.current_thread().name

    def note_built(_connection, _cursor, statement, _parameters, context, _executemany) -> None:
        if threading.current_thread().name == page_run and context.cache_hit is CacheStats.CACHE_MISS:
            built.append(statement.split("\n", 1)[0][:60])

    try:
        service = chat_service(session_factory(engine), ScriptedModel(["Hi"]))
        service.warm_up(PageQuery(20, 50))
        with clean_db.connect() as connection:
            for table in ("chat_session", "chat_message", "chat_request", "feedback"):
                assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        event.listen(engine, "before_cursor_execute", note_built)
        query = PageQuery(20, 50)
        first, _ = service.submit_and_read_page(ALICE, None, "Hello", client_message_id="w-1", query=query)
        wait_for_reply(service, ALICE, first.session_id)
        service.submit_and_read_page(ALICE, first.session_id, "Again", client_message_id="w-2", query=query)
        wait_for_reply(service, ALICE, first.session_id)
        service.page(ALICE, first.session_id, query)
        service.dashboard(ALICE)
        assert built == []
        assert [m.content for m in service.messages(ALICE, first.session_id)] == [
            "Hello",
            "Hi",
            "Again",
            "Hi",
        ]
    finally:
        engine.dispose()
