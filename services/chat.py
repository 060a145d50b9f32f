"""Chat use cases: sessions, messages and turns, for one user at a time.

Each method is one unit of work: it opens a database session, does its reads and writes, commits
or rolls back, and returns plain views. Every query is scoped by the user's id.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from persistence.database import one_connection, reading, unit_of_work
from persistence.orm import ChatMessageRow, ChatRequestRow, ChatSessionRow
from persistence.reconnect import safe_to_repeat
from persistence.repositories import (
    ClientIdUse,
    FeedbackRepository,
    MessageRepository,
    RequestRepository,
    SessionRepository,
    database_now,
)
from persistence.statuses import OPEN_REQUEST_STATUSES, MessageStatus, RequestStatus, Role
from services.config import Settings
from services.endpoint_catalog import EndpointCatalog
from services.endpoint_names import EndpointNotAllowed
from services.errors import SessionNotFound, TurnInProgress, UserError
from services.feedback import Rating
from services.model_clients.factory import ModelClientFactory
from services.model_settings import MAX_TOKENS_LIMIT, effective_model_settings
from services.replies import INTERRUPTED_MESSAGE, close_request
from services.reply_buffer import TurnOutcome
from services.text import InvalidMessage, check_user_message, make_storable
from services.titles import DEFAULT_TITLE, title_from_message
from services.turns import PreparedTurn, TurnRunner
from services.views import (
    Dashboard,
    EffectiveModelSettings,
    MessageView,
    RequestView,
    SessionSummary,
    SessionView,
    SubmitResult,
    User,
    from_row,
    message_view,
)

logger = logging.getLogger(__name__)

# The owner of the chat `ChatService.warm_up` writes and rolls back: an address no one can have
# (.invalid is reserved for that, RFC 2606).
WARM_UP_OWNER = "warm-up@app.invalid"


@dataclass(frozen=True)
class ChatPage:
    """Everything one run of the chat page draws, read in one short transaction."""

    session: SessionView | None
    recent: list[SessionSummary]
    open_request: RequestView | None  # the reply being written, found before the messages were read
    messages: list[MessageView]  # the newest ones, oldest first
    earlier: int  # how many older messages are not in `messages`
    ratings: dict[int, Rating]


@dataclass(frozen=True)
class PageQuery:
    """How much of the chat page to read: the sidebar's recent chats, and the chat's newest messages."""

    recent_limit: int
    message_limit: int


@dataclass(frozen=True)
class _NewChat:
    """A chat a submit made, as the page draws it right after: the question is all there is."""

    session: SessionView
    question: MessageView


class TurnLimitReached(UserError):
    """A per-user limit refused a new turn; the message says when to try again."""


class InvalidSettings(UserError):
    """Chat settings out of range."""


def _session_view(row: ChatSessionRow) -> SessionView:
    return from_row(SessionView, row)


def _recent(db: Session, user: User, limit: int) -> list[SessionSummary]:
    return [
        from_row(SessionSummary, row)
        for row in SessionRepository(db, owner_id=user.email).list_recent(limit=limit)
    ]


def _replayed(use: ClientIdUse | None) -> SubmitResult | None:
    """The first result of a submit whose client id is in `use`, if this user made it.

    Raises InvalidMessage when the id is held otherwise (another user's message, or one with no
    request): never reveal it; treat it as a bad request from this client."""
    if use is None:
        return None
    if not use.owned_by_caller or use.request_id is None:
        raise InvalidMessage("This message could not be sent. Reload the page and try again.")
    return SubmitResult(
        session_id=use.session_id,
        request_id=use.request_id,
        user_message_id=use.message_id,
        duplicate=True,
        # Client ids are made per page run, so a replay comes from this process: an open request
        # is either running here (start() returns its buffer) or was never started.
        waiting_for_runner=use.request_status in OPEN_REQUEST_STATUSES,
    )


class ChatService:
    def __init__(
        self,
        *,
        transactions: sessionmaker[Session],
        runner: TurnRunner,
        models: ModelClientFactory,
        endpoints: EndpointCatalog,
        settings: Settings,
    ) -> None:
        self._transactions = transactions
        self._runner = runner
        self._models = models
        self._endpoints = endpoints
        self._settings = settings

    @property
    def runner(self) -> TurnRunner:
        """The turn runner this service starts turns on."""
        return self._runner

    # -- sessions ----------------------------------------------------------------------------------

    def _new_session_row(self) -> ChatSessionRow:
        # The model is recorded when the chat starts: the chat keeps it if the default changes later.
        # Every column a turn reads is set, for a row that is never loaded (_store_submission).
        return ChatSessionRow(
            id=uuid.uuid4(),
            title=DEFAULT_TITLE,
            model_endpoint=self._models.default_endpoint,
            message_count=0,
            title_is_custom=False,
            pinned=False,
        )

    def create_session(self, user: User) -> SessionView:
        with unit_of_work(self._transactions) as db:
            row = SessionRepository(db, owner_id=user.email).add(self._new_session_row())
            db.commit()
            db.refresh(row)
            return _session_view(row)

    @safe_to_repeat
    def get_session(self, user: User, session_id: uuid.UUID) -> SessionView:
        with unit_of_work(self._transactions) as db:
            row = SessionRepository(db, owner_id=user.email).get(session_id)
            if row is None:
                raise SessionNotFound()
            return _session_view(row)

    @safe_to_repeat
    def recent_sessions(self, user: User, *, limit: int = 20) -> list[SessionSummary]:
        with reading(self._transactions) as db:
            return _recent(db, user, limit)

    @safe_to_repeat
    def dashboard(self, user: User, *, recent: int = 5) -> Dashboard:
        """The home page's figures and recent chats: one unit, outside a transaction (`reading`)."""
        with reading(self._transactions) as db:
            week_ago = datetime.now(UTC) - timedelta(days=7)
            repository = SessionRepository(db, owner_id=user.email)
            return Dashboard(
                sessions_this_week=repository.count_active_since(week_ago),
                messages_this_week=repository.count_messages_since(week_ago),
                recent_sessions=_recent(db, user, recent),
            )

    def default_model_settings(self) -> EffectiveModelSettings:
        return effective_model_settings(
            None, settings=self._settings, default_endpoint=self._models.default_endpoint
        )

    def effective_model_settings(self, session: SessionView) -> EffectiveModelSettings:
        return effective_model_settings(
            session, settings=self._settings, default_endpoint=self._models.default_endpoint
        )

    @safe_to_repeat
    def update_model_settings(
        self,
        user: User,
        session_id: uuid.UUID,
        *,
        endpoint: str | None,
        temperature: float,
        max_tokens: int,
        system_prompt: str,
    ) -> SessionView:
        if not 0.0 <= temperature <= 2.0:
            raise InvalidSettings("Temperature must be between 0.0 and 2.0.")
        if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
            raise InvalidSettings("Max tokens must be between 1 and 200,000.")
        if len(system_prompt) > self._settings.max_message_chars:
            raise InvalidSettings(
                f"The system prompt is longer than {self._settings.max_message_chars:,} characters."
            )
        endpoint = (endpoint or "").strip() or None
        with unit_of_work(self._transactions) as db:
            row = SessionRepository(db, owner_id=user.email).get_for_update(session_id)
            if row is None:
                raise SessionNotFound()
            if endpoint is not None and not self._endpoints.allows(endpoint):
                raise EndpointNotAllowed(endpoint)
            row.model_endpoint = endpoint
            row.temperature = temperature
            row.max_tokens = max_tokens
            row.system_prompt = make_storable(system_prompt).text
            db.commit()
            return _session_view(row)

    # -- messages and turns -----------------------------------------------------------------------

    @safe_to_repeat
    def messages(self, user: User, session_id: uuid.UUID) -> list[MessageView]:
        with unit_of_work(self._transactions) as db:
            if SessionRepository(db, owner_id=user.email).get(session_id) is None:
                raise SessionNotFound()
            return [
                message_view(m)
                for m in MessageRepository(db, owner_id=user.email).list_for_session(session_id)
            ]

    @safe_to_repeat
    def latest_messages(
        self, user: User, session_id: uuid.UUID, *, limit: int
    ) -> tuple[list[MessageView], int]:
        """The newest `limit` messages of a chat, oldest first, and how many earlier ones there are.
        A long chat's page draws only its end: every drawn message costs every page run."""
        with unit_of_work(self._transactions) as db:
            session = SessionRepository(db, owner_id=user.email).get(session_id)
            if session is None:
                raise SessionNotFound()
            rows = MessageRepository(db, owner_id=user.email).list_latest(session_id, limit=limit)
            return [message_view(m) for m in rows], max(0, session.message_count - len(rows))

    @safe_to_repeat
    def submit_message(
        self,
        user: User,
        session_id: uuid.UUID | None,
        text: str | None,
        *,
        client_message_id: str,
        replacing: int | None = None,
    ) -> SubmitResult:
        """Save the user's message and a pending request in one transaction, then start the turn.

        With no `session_id`, a new session is created in that same transaction, so a refused
        message never leaves an empty chat behind.

        `replacing` (edit and resend): the id of the chat's latest user message, which this one
        replaces. It and its replies stay in the chat, marked superseded in the same transaction,
        and leave every later prompt.

        The same `client_message_id` twice (a double click, a replayed rerun) stores nothing new
        and returns the first result.
        """
        return self._submit(user, session_id, text, client_message_id, replacing=replacing, read_page=None)[0]

    @safe_to_repeat
    def submit_and_read_page(
        self,
        user: User,
        session_id: uuid.UUID | None,
        text: str | None,
        *,
        client_message_id: str,
        query: PageQuery,
        replacing: int | None = None,
    ) -> tuple[SubmitResult, ChatPage | None]:
        """`submit_message`, and the chat page as it is after the submit (see `page`), read once the
        model call has started, so the read overlaps the model's wait for its first token. It reads
        on the submit's own connection, kept across the commit, and outside a transaction: no second
        checkout, no liveness check, no BEGIN and no ROLLBACK, four round trips fewer while every
        other page run competes for the same core (bench/load). The turn may end while the page
        reads, so its reply may be among the messages. A chat the submit made is not read back: it
        holds the question alone, and only the sidebar's chats are read. The page is None when
        nothing new was stored (a replayed submit): read it with `page` then."""
        return self._submit(user, session_id, text, client_message_id, replacing=replacing, read_page=query)

    def _submit(
        self,
        user: User,
        session_id: uuid.UUID | None,
        text: str | None,
        client_message_id: str,
        *,
        replacing: int | None,
        read_page: PageQuery | None,
    ) -> tuple[SubmitResult, ChatPage | None]:
        """The body of `submit_message` and `submit_and_read_page`."""
        checked = check_user_message(text, max_chars=self._settings.max_message_chars)
        notices = []
        if checked.replaced:
            notices.append(
                f"{checked.replaced} character(s) that cannot be stored (such as NUL or a broken emoji) "
                "were replaced with �."
            )
        # The page read after the commit stays on the submit's connection (see submit_and_read_page).
        with one_connection(self._transactions) as connection:
            with unit_of_work(self._transactions, on=connection) as db:
                try:
                    result, prepared, new_chat = self._store_submission(
                        db, user, session_id, checked.text, client_message_id, notices, replacing=replacing
                    )
                except IntegrityError:
                    # A concurrent submit with the same client id won the race: answer with its result.
                    db.rollback()
                    existing = self._existing_submission(db, user, client_message_id)
                    if existing is None:
                        raise
                    result, prepared, new_chat = existing, None, None
            if not result.duplicate or result.waiting_for_runner:
                # start() is idempotent in this process: a replay of a submit whose first attempt
                # committed (then lost its connection) starts the turn only if it is not running.
                self._runner.start(
                    result.request_id, owner_id=user.email, user_token=user.access_token, prepared=prepared
                )
            if read_page is None or result.duplicate:
                return result, None
            with reading(self._transactions, on=connection) as db:
                if new_chat is not None:
                    # The chat this submit made holds its question and nothing rated: of the page,
                    # only the sidebar's chats are read (three round trips fewer on a first turn).
                    recent = _recent(db, user, read_page.recent_limit)
                    return result, ChatPage(new_chat.session, recent, None, [new_chat.question], 0, {})
                # The page run already holds this turn's buffer: no open request to look for.
                page = self._read_page(db, user, result.session_id, read_page, look_for_open_request=False)
            return result, page

    def _existing_submission(self, db: Session, user: User, client_message_id: str) -> SubmitResult | None:
        """The first result of a submit with this client id, if this user made one (see `_replayed`)."""
        return _replayed(MessageRepository(db, owner_id=user.email).client_id_use(client_message_id))

    def _store_submission(
        self,
        db: Session,
        user: User,
        session_id: uuid.UUID | None,
        text: str,
        client_message_id: str,
        notices: list[str],
        *,
        replacing: int | None = None,
        commit: bool = True,
    ) -> tuple[SubmitResult, PreparedTurn | None, _NewChat | None]:
        """One transaction, committed here: the message, its request marked streaming, and what the
        model will be asked (PreparedTurn), so that the turn starts calling the model as soon as this
        commits. With no `session_id`, also the chat it made, as the page draws it. Not committed
        with `commit=False` (`warm_up`)."""
        requests = RequestRepository(db, owner_id=user.email)
        # The user's turn lock first (see _check_turn_allowed), and in the same round trip whether
        # this is a replay of a submit already stored.
        existing = _replayed(requests.lock_turns_of_user_and_find_client_id(client_message_id))
        if existing is not None:
            return existing, None, None
        sessions = SessionRepository(db, owner_id=user.email)
        session: ChatSessionRow | None
        created = session_id is None
        if session_id is None:
            # Made by the message's statement below, with the message (outside the ORM session).
            session = self._new_session_row()
            session.owner_id = user.email
            session_id = session.id
        else:
            session = sessions.get_for_update(session_id)
        if session is None:
            raise SessionNotFound()
        messages = MessageRepository(db, owner_id=user.email)
        self._check_turn_allowed(requests, session_id)
        retitle = False
        if replacing is not None:
            if messages.last_user_message_id(session_id) != replacing:
                raise InvalidMessage(
                    "Only your latest message can be edited; this one is shown below, to send as new."
                )
            replaced = messages.get(replacing)
            retitle = replaced is not None and replaced.seq == 1  # the question that named the chat
            messages.supersede_from(session_id, replacing)
        # The question that starts a chat (or an edit of it) names the chat, unless its owner did.
        new_title = None
        if not session.title_is_custom and (session.message_count == 0 or retitle):
            new_title = title_from_message(text)
        # The message, its chat's count and title, and its request, marked streaming: one statement.
        request_id = uuid.uuid4()
        message = messages.append(
            ChatMessageRow(
                session_id=session_id,
                role=Role.USER,
                content=text,
                status=MessageStatus.COMPLETE,
                client_message_id=client_message_id,
            ),
            new_title=new_title,
            request_id=request_id,
            new_chat=session if created else None,
        )
        if new_title is not None:
            set_committed_value(session, "title", new_title)  # stored by the append
        prepared = self._runner.prepare_turn(db, owner_id=user.email, session=session, user_message=message)
        if commit:
            db.commit()
        result = SubmitResult(
            session_id=session_id,
            request_id=request_id,
            user_message_id=message.id,
            duplicate=False,
            notices=notices,
        )
        new_chat = None
        if created:
            # Every column of the new chat is known here without reading it back: its times are
            # this transaction's now(), like the message's, which the append returned.
            new_chat = _NewChat(
                from_row(SessionView, session, created_at=message.created_at, updated_at=message.created_at),
                message_view(message),
            )
        return result, prepared, new_chat

    def warm_up(self, query: PageQuery) -> None:
        """Run the statements of a new chat's first turn, of the turn after it and of a chat page
        once, in one transaction that is rolled back (nothing is left behind), then the home page's.
        SQLAlchemy builds a statement's SQL on its first use in a process, and without this the first
        users after every start paid for it (bench/load's single user: a new chat's submit took 19 ms
        of CPU instead of 3, the next turn 10 instead of 3). Its chat belongs to `WARM_UP_OWNER`."""
        user = User(WARM_UP_OWNER)
        with unit_of_work(self._transactions) as db:
            first, _, _ = self._store_submission(
                db, user, None, "Warm-up", str(uuid.uuid4()), [], commit=False
            )
            outcome = TurnOutcome(MessageStatus.COMPLETE, "Warm-up reply", None)
            close_request(db, request_id=first.request_id, owner_id=user.email, outcome=outcome)
            db.flush()  # the chat is free for its next turn (the sessions do not flush by themselves)
            self._store_submission(db, user, first.session_id, "Warm-up", str(uuid.uuid4()), [], commit=False)
            self._read_page(db, user, first.session_id, query, look_for_open_request=True)
            _recent(db, user, query.recent_limit)
        self.dashboard(user)  # the home page, every visit's first page (nothing to show for this owner)

    def _check_turn_allowed(self, requests: RequestRepository, session_id: uuid.UUID) -> None:
        """A new turn needs the chat to be free and the user within the per-user caps. Checked in the
        submit's own transaction, with the user's turn lock and then the chat's row lock held (by the
        caller, in that order everywhere, so that two use cases never wait for each other), so the
        checks hold across app instances and before any model call."""
        # A statement after the lock's, so the counts see every turn committed by whoever held it before.
        found = requests.turn_state(
            session_id,
            silent_after=timedelta(seconds=self._runner.stale_after_seconds),
            window=timedelta(minutes=1),
        )
        if found.chat_busy:
            raise TurnInProgress()
        in_progress = found.in_progress
        if in_progress >= self._settings.max_concurrent_turns_per_user:
            raise TurnLimitReached(
                f"You already have {in_progress} replies being written (in this or other chats); the limit "
                f"is {self._settings.max_concurrent_turns_per_user}. Wait for one to finish, or stop one, "
                "then send it again (it is shown below)."
            )
        recent, oldest = found.started_in_window, found.oldest_in_window
        if recent >= self._settings.max_turns_per_minute_per_user and oldest is not None:
            wait = max(1, math.ceil(60 - (found.now - oldest).total_seconds()))
            raise TurnLimitReached(
                f"You have sent {recent} messages in the last minute, the most this app takes. "
                f"Try again in {wait} s; your message is shown below."
            )

    def retry(self, user: User, session_id: uuid.UUID) -> SubmitResult:
        """Ask again for a reply to the latest user message (after an error, a stop or an interruption)."""
        with unit_of_work(self._transactions) as db:
            requests = RequestRepository(db, owner_id=user.email)
            requests.lock_turns_of_user()
            sessions = SessionRepository(db, owner_id=user.email)
            if sessions.get_for_update(session_id) is None:
                raise SessionNotFound()
            self._check_turn_allowed(requests, session_id)
            last_user_message_id = MessageRepository(db, owner_id=user.email).last_user_message_id(session_id)
            if last_user_message_id is None:
                raise InvalidMessage("There is no message to retry yet.")
            request = requests.add(
                ChatRequestRow(
                    session_id=session_id, user_message_id=last_user_message_id, status=RequestStatus.PENDING
                )
            )
            db.commit()
            result = SubmitResult(
                session_id=session_id,
                request_id=request.id,
                user_message_id=last_user_message_id,
                duplicate=False,
            )
        self._runner.start(result.request_id, owner_id=user.email, user_token=user.access_token)
        return result

    @safe_to_repeat
    def open_request(self, user: User, session_id: uuid.UUID) -> RequestView | None:
        """The unfinished request of a session, if any. One whose runner is gone for good is closed."""
        with reading(self._transactions) as db:
            return self._open_request(db, user, session_id)

    def _open_request(self, db: Session, user: User, session_id: uuid.UUID) -> RequestView | None:
        request = RequestRepository(db, owner_id=user.email).open_for_session(session_id)
        if request is None:
            return None
        now = database_now(db)
        if self._runner.is_abandoned(request, now):
            # In a transaction of its own: `db` may be a read-only unit (see `page`).
            with unit_of_work(self._transactions) as closing:
                close_request(
                    closing,
                    request_id=request.id,
                    owner_id=user.email,
                    outcome=TurnOutcome(MessageStatus.INTERRUPTED, request.partial_text, INTERRUPTED_MESSAGE),
                )
                closing.commit()
            return None
        return from_row(
            RequestView, request, seconds_since_activity=(now - request.last_activity).total_seconds()
        )

    @safe_to_repeat
    def page(
        self,
        user: User,
        session_id: uuid.UUID | None,
        query: PageQuery,
        *,
        look_for_open_request: bool = True,
    ) -> ChatPage:
        """What the chat page draws, in one read instead of one per part, and outside a transaction
        (`reading`): every round trip of a page run competes with the replies streaming in the same
        process. An abandoned reply found on the way is closed in a transaction of its own.

        The open request is read before the messages (pass `look_for_open_request=False` when the
        page already holds the reply's buffer): a reply that ends in between is then among the
        messages too, and the page draws it once, from its buffer. Never the other way round, where
        it would be in neither."""
        with reading(self._transactions) as db:
            return self._read_page(db, user, session_id, query, look_for_open_request=look_for_open_request)

    def _read_page(
        self,
        db: Session,
        user: User,
        session_id: uuid.UUID | None,
        query: PageQuery,
        *,
        look_for_open_request: bool,
    ) -> ChatPage:
        sessions = SessionRepository(db, owner_id=user.email)
        recent = _recent(db, user, query.recent_limit)
        if session_id is None:
            return ChatPage(None, recent, None, [], 0, {})
        row = sessions.read(session_id)
        if row is None:
            raise SessionNotFound()
        session = from_row(SessionView, row)
        open_request = self._open_request(db, user, session_id) if look_for_open_request else None
        rows = MessageRepository(db, owner_id=user.email).list_latest(session_id, limit=query.message_limit)
        ratings = {
            message_id: Rating(rating, comment)
            for message_id, rating, comment in FeedbackRepository(db, user_id=user.email).in_session(
                session_id
            )
        }
        messages = [message_view(m) for m in rows]
        earlier = max(0, row.message_count - len(rows))
        return ChatPage(session, recent, open_request, messages, earlier, ratings)

    def stop(self, user: User, request_id: uuid.UUID) -> bool:
        """Ask the runner to stop a reply; what was written so far is saved as `stopped`."""
        with unit_of_work(self._transactions) as db:
            if RequestRepository(db, owner_id=user.email).get(request_id) is None:
                return False
        return self._runner.request_stop(request_id)
