"""Turns as jobs: a process-wide runner streams each reply into an in-memory buffer and the database.

The page only reads the buffer. A click, a rerun or a closed tab stops the page script, never the
turn: the next run of the page finds the request still open and reattaches to its buffer. Partial
text is checkpointed about once a second, so another process, or this one after a restart, can show
what was written and close the request as `interrupted`.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.orm import Session, sessionmaker

from persistence.database import unit_of_work
from persistence.orm import ChatMessageRow, ChatRequestRow, ChatSessionRow
from persistence.reconnect import retry_on_disconnect
from persistence.repositories import (
    MessageRepository,
    RequestRepository,
    SessionRepository,
    database_now,
    open_requests_of_all_users,
)
from persistence.statuses import OPEN_REQUEST_STATUSES, MessageStatus, RequestStatus
from services.config import Settings
from services.context import HistoryMessage, build_context
from services.endpoint_catalog import EndpointCatalog
from services.endpoint_names import EndpointNotAllowed
from services.extensions import NoExtension, TurnExtension, TurnInput
from services.model_clients.factory import ModelClientFactory
from services.model_clients.port import (
    GenerationParams,
    ModelError,
    ModelErrorKind,
    PromptMessage,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TraceReference,
    Usage,
)
from services.model_clients.wire_formats import TRACED_TASKS
from services.model_settings import effective_model_settings
from services.outbox import PendingReply, ReplyOutbox
from services.replies import (
    EMPTY_REPLY_MESSAGE,
    INTERRUPTED_MESSAGE,
    KEPT_FOR_LATER_MESSAGE,
    NO_USER_TOKEN_MESSAGE,
    SAVE_FAILED_MESSAGE,
    UNEXPECTED_FAILURE_MESSAGE,
    ReplyMetrics,
    close_request,
)
from services.reply_buffer import TurnBuffer, TurnOutcome
from services.reply_details import ReplyDetails
from services.text import make_storable
from services.titles import ChatTurn, write_model_title
from services.views import message_view

logger = logging.getLogger(__name__)

# How many earlier messages a turn loads at most before the character budget trims them.
CONTEXT_MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class PreparedTurn:
    """What a turn needs once its request is marked streaming: read in one short transaction."""

    session_id: uuid.UUID
    question: str
    first_turn: bool
    endpoint: str
    params: GenerationParams
    prompt: list[PromptMessage]


_STREAM_ENDED = object()
# Once a reply flows, its helper thread reads it in bursts: after a read that had to wait for the
# network, it pauses this long, so that its next reads find the tokens that came in meanwhile. One
# wake-up of the helper and of the turn's worker then carries several tokens instead of one, and on a
# busy server each wake-up is a wait for the one core the server's threads share. A 100-token reply at
# 100 tokens a second, one user (README, "Under load"): the helper's CPU went from 31 to 14 ms, the
# worker's from 11 to 8, the server's per turn from about 95 to 70 ms. The page redraws a reply at
# most ten times a second, so a pause this short does not show; the first token is handed on at once.
STREAM_READ_PAUSE_SECONDS = 0.04
# A read that took longer than this waited for the network: a token already received takes microseconds.
_WAITED_FOR_THE_NETWORK_SECONDS = 0.002
# What the user sees happen: the first of these is the reply's first token (its time is recorded).
_VISIBLE_EVENTS = (TextDelta, ReasoningDelta, ToolCallStarted)


def _until_stopped(
    stream: Iterator[StreamEvent], buffer: TurnBuffer, *, pause_seconds: float = STREAM_READ_PAUSE_SECONDS
) -> Iterator[StreamEvent]:
    """The model's events, read by a helper thread, so that Stop takes effect at once, even while
    the model has not sent its first token: the turn then ends as stopped and the helper thread
    closes the stream (and its connection) as soon as the model answers or times out."""
    events: queue.SimpleQueue[object] = queue.SimpleQueue()

    def pump() -> None:
        flowing = False  # no pause before the first thing the user sees
        just_paused = False  # the first read after a pause also waits, for the GIL: no pause for it
        try:
            model_events = iter(stream)
            while True:
                asked = time.monotonic()
                event = next(model_events, _STREAM_ENDED)
                if event is _STREAM_ENDED:
                    break
                events.put(event)
                if buffer.stop_requested:
                    break
                waited = time.monotonic() - asked > _WAITED_FOR_THE_NETWORK_SECONDS
                if pause_seconds and flowing and waited and not just_paused:
                    time.sleep(pause_seconds)
                    just_paused = True
                else:
                    just_paused = False
                flowing = flowing or isinstance(event, _VISIBLE_EVENTS)
        except BaseException as error:  # handed to the turn, which reports ModelError plainly
            events.put(error)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    logger.warning("Closing a model stream failed", exc_info=True)
            events.put(_STREAM_ENDED)

    threading.Thread(target=pump, name="model-stream", daemon=True).start()
    while True:
        try:
            item = events.get(timeout=0.05)
        except queue.Empty:
            if buffer.stop_requested:
                return
            continue
        if item is _STREAM_ENDED:
            return
        if isinstance(item, BaseException):
            raise item
        yield item  # type: ignore[misc]


def _with_event(details: ReplyDetails, *, event: StreamEvent) -> ReplyDetails:
    if isinstance(event, ReasoningDelta):
        return details.with_reasoning(event.text)
    if isinstance(event, ToolCallStarted):
        return details.with_call(event.call_id, event.name, event.arguments)
    if isinstance(event, ToolCallFinished):
        return details.with_result(event.call_id, event.output)
    if isinstance(event, TraceReference):
        return dataclasses.replace(
            details,
            request_id=event.request_id or details.request_id,
            trace_id=event.trace_id or details.trace_id,
        )
    return details


# How often replies kept in the outbox are offered to the database again.
OUTBOX_FLUSH_SECONDS = 1.0
# A new chat's model-written title is a model call of its own, made after the reply is stored. It
# runs on these threads, not on the turn's worker: a worker is one of the TURN_WORKERS replies the
# process writes at once, and a queued reply must not wait for someone else's title.
TITLE_WRITERS = 2
# Titles are a nicety: when this many wait (the endpoint is slow, or the app is very busy), a new
# chat keeps the title taken from its first message instead of queueing more model calls.
TITLES_WAITING_AT_MOST = 200
# How long, and how many, finished turns' buffers stay readable for the pages that started them.
FINISHED_BUFFER_SECONDS = 60.0
FINISHED_BUFFERS_KEPT = 500


class TurnRunner:
    """A small thread pool that runs turns. One per process (cached by the UI layer)."""

    def __init__(
        self,
        *,
        transactions: sessionmaker[Session],
        models: ModelClientFactory,
        endpoints: EndpointCatalog,
        settings: Settings,
        extension: TurnExtension | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transactions = transactions
        self._models = models
        self._endpoints = endpoints
        self._settings = settings
        self._extension: TurnExtension = extension or NoExtension()
        self._clock = clock
        self._buffers: dict[uuid.UUID, TurnBuffer] = {}
        # Finished buffers stay readable for a while: a turn can end (a fast error) before the page
        # that started it asks for its buffer, and that page must still show how it ended.
        self._finished: collections.OrderedDict[uuid.UUID, tuple[float, TurnBuffer]] = (
            collections.OrderedDict()
        )
        self._buffers_lock = threading.Lock()
        self._shutting_down = threading.Event()
        # Daemon workers: a turn in flight must not hold up the process's exit (SIGTERM on
        # deploy); `shutdown` stops them and saves what they wrote as `interrupted` first.
        # (buffer, owner, the owner's own token for MODEL_CALLS_AS_USER: held in memory only, and the
        # turn's preparation when its submit made it)
        self._jobs: queue.SimpleQueue[tuple[TurnBuffer, str, str | None, PreparedTurn | None] | None] = (
            queue.SimpleQueue()
        )
        self._workers = [
            threading.Thread(target=self._work, name=f"turn-{index}", daemon=True)
            for index in range(settings.turn_workers)
        ]
        self._titles: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._titles_lock = threading.Lock()
        self._titles_pending = 0  # waiting or being written
        self._title_writers = [
            threading.Thread(target=self._write_titles, name=f"title-{index}", daemon=True)
            for index in range(TITLE_WRITERS)
        ]
        self._outbox = ReplyOutbox(settings.outbox_path())
        for worker in self._workers + self._title_writers:
            worker.start()
        threading.Thread(target=self._flush_outbox_regularly, name="reply-outbox", daemon=True).start()

    # -- what pages call -------------------------------------------------------------------------

    def start(
        self,
        request_id: uuid.UUID,
        *,
        owner_id: str,
        user_token: str | None = None,
        prepared: PreparedTurn | None = None,
    ) -> TurnBuffer:
        """Run the turn of an open request (idempotent: a running turn's buffer is returned as is).
        `prepared` is what `prepare_turn` read in the transaction that committed the request marked
        streaming; without it the worker reads it and marks the request itself."""
        with self._buffers_lock:
            existing = self._buffers.get(request_id)
            if existing is not None:
                return existing
            buffer = TurnBuffer(request_id)
            self._buffers[request_id] = buffer
        self._jobs.put((buffer, owner_id, user_token, prepared))
        return buffer

    def buffer_for(self, request_id: uuid.UUID) -> TurnBuffer | None:
        """The turn's buffer while it runs, and for `FINISHED_BUFFER_SECONDS` after it ended."""
        with self._buffers_lock:
            running = self._buffers.get(request_id)
            if running is not None:
                return running
            finished = self._finished.get(request_id)
            return finished[1] if finished is not None else None

    def is_running(self, request_id: uuid.UUID) -> bool:
        with self._buffers_lock:
            return request_id in self._buffers

    @property
    def titles_pending(self) -> int:
        """Model-written titles waiting for a title writer or being written."""
        with self._titles_lock:
            return self._titles_pending

    @property
    def replies_waiting_for_the_database(self) -> int:
        """Replies finished while the database was unreachable, kept in the outbox until stored."""
        return len(self._outbox)

    def request_stop(self, request_id: uuid.UUID) -> bool:
        buffer = self.buffer_for(request_id)
        if buffer is None:
            return False
        buffer.request_stop()
        return True

    def shutdown(self, *, timeout_seconds: float = 5.0) -> None:
        """Stop every turn in flight, saving its text as `interrupted`, within about `timeout_seconds`.

        Workers and title writers finish the job in hand (saving a reply, writing a title) and exit,
        so that nothing still uses the database when the engine is disposed after this. Titles not
        yet started are dropped: their chats keep the title taken from the first message.
        """
        self._shutting_down.set()
        with self._buffers_lock:
            running = list(self._buffers.values())
        for buffer in running:
            buffer.request_stop()
        for _ in self._workers:
            self._jobs.put(None)
        for _ in self._title_writers:
            self._titles.put(None)
        deadline = self._clock() + timeout_seconds
        for worker in self._workers + self._title_writers:
            worker.join(timeout=max(0.0, deadline - self._clock()))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._run_guarded(*job)

    def _write_titles(self) -> None:
        while True:
            write = self._titles.get()
            if write is None:
                return
            try:
                if not self._shutting_down.is_set():
                    write()
            except Exception:
                logger.exception("Writing a chat's title failed unexpectedly")
            finally:
                with self._titles_lock:
                    self._titles_pending -= 1

    def _ask_for_title(self, write: Callable[[], None]) -> None:
        with self._titles_lock:
            if self._titles_pending >= TITLES_WAITING_AT_MOST:
                logger.info("%d titles wait: a new chat keeps its first title", self._titles_pending)
                return
            self._titles_pending += 1
        self._titles.put(write)

    @property
    def stale_after_seconds(self) -> float:
        """An open request with no checkpoint for this long has lost its runner."""
        return (
            self._settings.llm_first_token_timeout_seconds
            + 4 * self._settings.checkpoint_interval_seconds
            + 10
        )

    def is_abandoned(self, request: ChatRequestRow, now: datetime) -> bool:
        """Whether an open request has lost its runner for good: silent for longer than any live
        turn stays (no checkpoint, no start), and not running in this process."""
        idle = (now - request.last_activity).total_seconds()
        return idle > self.stale_after_seconds and not self.is_running(request.id)

    # -- the job ---------------------------------------------------------------------------------

    def _run_guarded(
        self, buffer: TurnBuffer, owner_id: str, user_token: str | None, prepared: PreparedTurn | None
    ) -> None:
        try:
            self._run(buffer, owner_id, user_token, prepared)
        except Exception:
            # The stack trace goes to the log (no message text: parameters are hidden by the engine).
            logger.exception("Turn %s failed unexpectedly", buffer.request_id)
            if not buffer.done:
                outcome = TurnOutcome(MessageStatus.ERROR, buffer.text(), UNEXPECTED_FAILURE_MESSAGE)
                # Close the request too: left open, it would refuse the chat's next message until stale.
                self._finish(buffer, owner_id, outcome, ReplyMetrics())
                buffer.finish(outcome)
        finally:
            self._let_go(buffer)

    def _let_go(self, buffer: TurnBuffer) -> None:
        now = self._clock()
        with self._buffers_lock:
            self._buffers.pop(buffer.request_id, None)
            self._finished[buffer.request_id] = (now, buffer)
            while self._finished and (
                len(self._finished) > FINISHED_BUFFERS_KEPT
                or next(iter(self._finished.values()))[0] < now - FINISHED_BUFFER_SECONDS
            ):
                self._finished.popitem(last=False)

    def _run(
        self, buffer: TurnBuffer, owner_id: str, user_token: str | None, prepared: PreparedTurn | None
    ) -> None:
        started = self._clock()
        if buffer.stop_requested:
            # Stopped while still queued: close it without ever calling the model.
            outcome = TurnOutcome(MessageStatus.STOPPED, "", None)
            self._finish(buffer, owner_id, outcome, ReplyMetrics())
            buffer.finish(outcome)
            return
        if prepared is None:
            prepared = retry_on_disconnect(lambda: self._prepare(buffer, owner_id))
            if prepared is None:
                return
        self._stream(buffer, owner_id, prepared, started, user_token)

    def _prepare(self, buffer: TurnBuffer, owner_id: str) -> PreparedTurn | None:
        """Load what the turn needs and mark it streaming; None (buffer finished) when it cannot run.
        Only for a turn started without its preparation (a retry, a replayed submit): a new message's
        submit prepares its turn in its own transaction."""
        request_id = buffer.request_id
        with unit_of_work(self._transactions) as db:
            requests = RequestRepository(db, owner_id=owner_id)
            request = requests.get(request_id, for_update=True)
            if request is None or request.status not in OPEN_REQUEST_STATUSES:
                buffer.finish(TurnOutcome(MessageStatus.ERROR, "", "This reply was already finished."))
                return None
            session = SessionRepository(db, owner_id=owner_id).get(request.session_id)
            user_message = MessageRepository(db, owner_id=owner_id).get(request.user_message_id)
            if session is None or user_message is None:
                buffer.finish(TurnOutcome(MessageStatus.ERROR, "", "This conversation no longer exists."))
                return None
            prepared = self.prepare_turn(db, owner_id=owner_id, session=session, user_message=user_message)
            request.status = RequestStatus.STREAMING
            request.started_at = func.now()
            db.commit()
            return prepared

    def prepare_turn(
        self, db: Session, *, owner_id: str, session: ChatSessionRow, user_message: ChatMessageRow
    ) -> PreparedTurn:
        """What the model is asked, read in the caller's transaction: the chat's recent history up to
        `user_message`, within the context budget, and the chat's own model settings over the defaults.

        A submit calls this in its own transaction and hands the result to `start`, so a new message
        reaches the model without another transaction in between (bench/load: that transaction was
        about a third of the time the app added to the first token).
        """
        if user_message.seq == 1:
            # The chat's first message has no history before it: a round trip fewer for every new chat.
            history = [HistoryMessage(user_message.role, user_message.content, user_message.status)]
        else:
            history = [
                HistoryMessage(role, content, status)
                for role, content, status in MessageRepository(db, owner_id=owner_id).list_recent_for_context(
                    session.id, up_to_seq=user_message.seq, limit=CONTEXT_MESSAGE_LIMIT
                )
            ]
        chosen = effective_model_settings(
            session, settings=self._settings, default_endpoint=self._models.default_endpoint
        )
        endpoint = chosen.endpoint or self._models.default_endpoint
        return PreparedTurn(
            session_id=session.id,
            question=user_message.content,
            first_turn=user_message.seq == 1,
            endpoint=endpoint,
            params=GenerationParams(
                model=endpoint, temperature=chosen.temperature, max_tokens=chosen.max_tokens
            ),
            prompt=build_context(
                system_prompt=chosen.system_prompt,
                history=history,
                char_budget=self._settings.context_char_budget,
            ),
        )

    def _stream(
        self,
        buffer: TurnBuffer,
        owner_id: str,
        prepared: PreparedTurn,
        started: float,
        user_token: str | None,
    ) -> None:
        request_id = buffer.request_id
        session_id, question, first_turn = prepared.session_id, prepared.question, prepared.first_turn
        endpoint, params, prompt = prepared.endpoint, prepared.params, prepared.prompt
        if not self._endpoints.allows(endpoint):
            # Checked again here, at the last moment: a stored or imported name never reaches a URL.
            logger.warning("Turn %s: refused an endpoint that is not allowed", request_id)
            outcome = TurnOutcome(MessageStatus.ERROR, "", EndpointNotAllowed(endpoint).user_message)
            saved = self._finish(buffer, owner_id, outcome, ReplyMetrics())
            buffer.finish(outcome if saved else TurnOutcome(MessageStatus.ERROR, "", SAVE_FAILED_MESSAGE))
            return
        client = self._models.client_for(endpoint)
        as_user = self._settings.model_calls_as_user and not client.is_demo
        if as_user and not user_token:
            # Never fall back to the app's own identity: the point is the user's permissions.
            outcome = TurnOutcome(MessageStatus.ERROR, "", NO_USER_TOKEN_MESSAGE)
            saved = self._finish(buffer, owner_id, outcome, ReplyMetrics(model=endpoint))
            buffer.finish(outcome if saved else TurnOutcome(MessageStatus.ERROR, "", SAVE_FAILED_MESSAGE))
            return
        call_options = {"user_token": user_token} if as_user else {}
        if not client.is_demo:
            # Which wire format the endpoint speaks; looked up here, outside any transaction.
            params = dataclasses.replace(params, task=self._endpoints.task_of(endpoint))
        first_token_at: float | None = None
        usage: Usage | None = None
        status, error_message = MessageStatus.COMPLETE, None
        last_checkpoint = self._clock()
        checkpointed_length = 0
        turn = TurnInput(
            user=owner_id,
            session_id=session_id,
            question=question,
            endpoint=endpoint,
            prompt=prompt,
            char_budget=self._settings.context_char_budget,
        )
        prepared_prompt = self._extension.prepare(turn)
        if prepared_prompt.sources:
            sources = prepared_prompt.sources
            buffer.update_details(lambda details: dataclasses.replace(details, sources=sources))
        stream = client.stream_chat(prepared_prompt.prompt, params, **call_options)
        try:
            # The offline demo makes its words on demand, in this process: nothing piles up while a
            # reader pauses, so its stream is read as it comes.
            pause = 0.0 if client.is_demo else STREAM_READ_PAUSE_SECONDS
            for event in _until_stopped(stream, buffer, pause_seconds=pause):
                if first_token_at is None and isinstance(event, _VISIBLE_EVENTS):
                    first_token_at = self._clock()
                if isinstance(event, TextDelta):
                    buffer.append(event.text)
                elif isinstance(event, Usage):
                    usage = event
                else:
                    buffer.update_details(functools.partial(_with_event, event=event))
                if buffer.stop_requested:
                    status = MessageStatus.STOPPED
                    break
                now = self._clock()
                if now - last_checkpoint >= self._settings.checkpoint_interval_seconds:
                    text = buffer.text()
                    if len(text) != checkpointed_length:
                        self._checkpoint(request_id, owner_id, text)
                        checkpointed_length = len(text)
                    last_checkpoint = now
        except ModelError as error:
            # Cut at the chat's limit is a reply that ended early on purpose; anything else failed.
            status = (
                MessageStatus.STOPPED if error.kind is ModelErrorKind.LENGTH_LIMIT else MessageStatus.ERROR
            )
            error_message = error.user_message
            logger.warning("Turn %s: model error %s", request_id, error.kind)
        if buffer.stop_requested and status == MessageStatus.COMPLETE:
            status = MessageStatus.STOPPED
        if status == MessageStatus.COMPLETE and not buffer.text().strip():
            status, error_message = MessageStatus.ERROR, EMPTY_REPLY_MESSAGE
        if status == MessageStatus.STOPPED and self._shutting_down.is_set():
            status, error_message = MessageStatus.INTERRUPTED, INTERRUPTED_MESSAGE

        finished = self._clock()
        buffer.update_details(ReplyDetails.finished)
        text = buffer.text()
        if status == MessageStatus.COMPLETE:
            text = self._extension.finish(turn, text)
        outcome = TurnOutcome(status, text, error_message, buffer.details())
        metrics = ReplyMetrics(
            model=endpoint,
            usage=usage,
            time_to_first_token_ms=(
                round((first_token_at - started) * 1000) if first_token_at is not None else None
            ),
            latency_ms=round((finished - started) * 1000),
        )
        saved = self._finish(buffer, owner_id, outcome, metrics)
        buffer.finish(
            outcome
            if saved
            else TurnOutcome(outcome.status, outcome.text, KEPT_FOR_LATER_MESSAGE, outcome.details)
        )
        if (
            saved
            and status == MessageStatus.COMPLETE
            and first_turn
            and self._settings.model_titles
            and not client.is_demo
            and params.task not in TRACED_TASKS  # an agent would run its tools to write a title
        ):
            first_exchange = ChatTurn(
                session_id=session_id, owner_id=owner_id, question=question, answer=outcome.text
            )
            self._ask_for_title(
                functools.partial(
                    write_model_title, self._transactions, first_exchange, client, params, call_options
                )
            )

    def _checkpoint(self, request_id: uuid.UUID, owner_id: str, text: str) -> None:
        def save() -> None:
            with unit_of_work(self._transactions) as db:
                RequestRepository(db, owner_id=owner_id).checkpoint(request_id, make_storable(text).text)
                db.commit()

        try:
            retry_on_disconnect(save)
        except Exception:
            # A missed checkpoint costs only durability of a partial reply; the turn goes on.
            logger.warning("Turn %s: checkpoint failed", request_id, exc_info=True)

    def _finish(self, buffer: TurnBuffer, owner_id: str, outcome: TurnOutcome, metrics: ReplyMetrics) -> bool:
        """Store the reply and close its request (the buffer keeps the stored reply for the page).
        Returns False when the database would not take it within a few seconds; the reply is then
        kept in the local outbox and stored later."""
        request_id = buffer.request_id
        for attempt in range(3):
            try:
                with unit_of_work(self._transactions) as db:
                    stored = close_request(
                        db, request_id=request_id, owner_id=owner_id, outcome=outcome, metrics=metrics
                    )
                    db.commit()
                buffer.stored_reply = message_view(stored) if stored is not None else None
                return True
            except Exception as error:
                logger.warning(
                    "Turn %s: saving the reply failed (attempt %d, %s)",
                    request_id,
                    attempt + 1,
                    type(error).__name__,
                )
                time.sleep(0.5 * (attempt + 1))
        self._outbox.put(
            PendingReply(
                request_id=request_id,
                owner_id=owner_id,
                status=outcome.status,
                text=outcome.text,
                error_message=outcome.error_message,
                metrics=metrics.to_json(),
                details=outcome.details.to_json(),
            )
        )
        return False

    def flush_outbox(self) -> int:
        """Store the replies the outbox holds; each leaves the outbox once stored. Returns how many."""
        stored = 0
        for reply in self._outbox.pending():
            try:
                details = ReplyDetails.from_json(reply.details)
            except ValueError:
                details = ReplyDetails()  # a damaged details document never holds up the reply itself
            outcome = TurnOutcome(MessageStatus(reply.status), reply.text, reply.error_message, details)
            try:
                with unit_of_work(self._transactions) as db:
                    close_request(
                        db,
                        request_id=reply.request_id,
                        owner_id=reply.owner_id,
                        outcome=outcome,
                        metrics=ReplyMetrics.from_json(reply.metrics),
                    )
                    db.commit()
            except Exception as error:
                logger.info("The outbox waits for the database (%s)", type(error).__name__)
                return stored
            self._outbox.remove(reply.request_id)
            stored += 1
        if stored:
            logger.info("Stored %d reply(ies) from the local outbox", stored)
        return stored

    def _flush_outbox_regularly(self) -> None:
        while not self._shutting_down.wait(OUTBOX_FLUSH_SECONDS):
            if len(self._outbox):
                self.flush_outbox()

    # -- recovery ---------------------------------------------------------------------------------

    def recover_interrupted(self) -> int:
        """Close requests whose runner died (no checkpoint for a while), keeping their partial text.

        Replies kept in the outbox by a process that lost its database are stored first: their
        requests then end with the whole reply, not as interrupted."""
        self.flush_outbox()
        closed = 0
        with unit_of_work(self._transactions) as db:
            now = database_now(db)
            for request in open_requests_of_all_users(db):
                if not self.is_abandoned(request, now):
                    continue
                outcome = TurnOutcome(MessageStatus.INTERRUPTED, request.partial_text, INTERRUPTED_MESSAGE)
                close_request(db, request_id=request.id, owner_id=request.user_id, outcome=outcome)
                closed += 1
            db.commit()
        if closed:
            logger.info("Closed %d interrupted chat request(s)", closed)
        return closed
