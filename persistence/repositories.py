"""Repositories: add and query, scoped by owner in the SQL itself. They never commit.

Another user's session id behaves exactly like one that does not exist: every lookup filters on
`owner_id` and returns None, never a different error.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ClauseElement,
    Interval,
    Row,
    Select,
    String,
    Table,
    bindparam,
    delete,
    exists,
    func,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from persistence.orm import AdminAuditRow, ChatMessageRow, ChatRequestRow, ChatSessionRow, FeedbackRow
from persistence.statuses import OPEN_REQUEST_STATUSES, RequestStatus, Role

# The first key of the advisory lock that serialises one user's new turns (the second is the user).
USER_TURNS_LOCK_CLASS = 7_315_224

PREVIEW_CHARS = 200


@dataclass(frozen=True)
class ClientIdUse:
    """The message holding a client id, and the request it was sent with (None if it has none)."""

    message_id: int
    session_id: uuid.UUID
    owned_by_caller: bool
    request_id: uuid.UUID | None
    request_status: str | None


@dataclass(frozen=True)
class TurnState:
    """What RequestRepository.turn_state found."""

    now: datetime
    chat_busy: bool
    in_progress: int
    started_in_window: int
    oldest_in_window: datetime | None


def _given_values(row: ChatMessageRow | ChatRequestRow) -> dict[str, object]:
    """The columns set on a new row object, for a plain INSERT (the rest take their defaults)."""
    columns = row.__table__.columns
    return {column.key: getattr(row, column.key) for column in columns if column.key in row.__dict__}


# What a chat list shows of a session, and what a page shows of a message (all but the search vector).
SESSION_SUMMARY_COLUMNS = (
    ChatSessionRow.id,
    ChatSessionRow.title,
    ChatSessionRow.model_endpoint,
    ChatSessionRow.message_count,
    ChatSessionRow.updated_at,
    ChatSessionRow.pinned,
)
MESSAGE_READ_COLUMNS = tuple(
    column for column in ChatMessageRow.__table__.columns if column.key != "search_vector"
)


# The statements of every turn and every chat page run, built once with bound parameters. SQLAlchemy
# builds a statement object and works out its cache key on each call otherwise: 0.5 ms for the turn
# check alone, against 0.002 ms for one built once (bench/load: a submit and its page run cost about
# 35 ms of CPU before the reply's first text). Built on first use, when the mappers are ready.
_OWNER = "owner_id"
MESSAGES = cast(Table, ChatMessageRow.__table__)
SESSIONS = cast(Table, ChatSessionRow.__table__)
REQUESTS = cast(Table, ChatRequestRow.__table__)
Columns = Select[*tuple[Any, ...]]  # a select of plain columns, read as rows


@functools.cache
def _session_for_update() -> Select[ChatSessionRow]:
    return (
        select(ChatSessionRow)
        .where(
            ChatSessionRow.owner_id == bindparam(_OWNER),
            ChatSessionRow.deleted_at.is_(None),
            ChatSessionRow.id == bindparam("session_id"),
        )
        .with_for_update()
    )


@functools.cache
def _recent_sessions() -> Columns:
    return (
        select(*SESSION_SUMMARY_COLUMNS)
        .where(ChatSessionRow.owner_id == bindparam(_OWNER), ChatSessionRow.deleted_at.is_(None))
        # A chat with no message yet (settings saved before the first one) is not listed.
        .where(ChatSessionRow.archived_at.is_(None), ChatSessionRow.message_count > 0)
        .order_by(ChatSessionRow.pinned.desc(), ChatSessionRow.updated_at.desc(), ChatSessionRow.id.desc())
        .limit(bindparam("limit"))
    )


@functools.cache
def _session_row() -> Columns:
    return select(*ChatSessionRow.__table__.columns).where(
        ChatSessionRow.id == bindparam("session_id"),
        ChatSessionRow.owner_id == bindparam(_OWNER),
        ChatSessionRow.deleted_at.is_(None),
    )


@functools.cache
def _latest_messages() -> Columns:
    return (
        select(*MESSAGE_READ_COLUMNS)
        .join(ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id)
        .where(
            ChatMessageRow.session_id == bindparam("session_id"),
            ChatSessionRow.owner_id == bindparam(_OWNER),
            ChatSessionRow.deleted_at.is_(None),
        )
        .order_by(ChatMessageRow.seq.desc())
        .limit(bindparam("limit"))
    )


@functools.cache
def _messages_for_context() -> Columns:
    # Only what a prompt is made of: a submit reads up to CONTEXT_MESSAGE_LIMIT of these before the
    # model is called, and building full ORM rows (every column, the JSON details) for each was
    # most of a submit's time in a long chat (bench/submit_and_read.py).
    return (
        select(ChatMessageRow.role, ChatMessageRow.content, ChatMessageRow.status)
        .join(ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id)
        .where(
            ChatMessageRow.session_id == bindparam("session_id"),
            ChatSessionRow.owner_id == bindparam(_OWNER),
            ChatMessageRow.seq <= bindparam("up_to_seq"),
            ChatMessageRow.superseded.is_(False),
        )
        .order_by(ChatMessageRow.seq.desc())
        .limit(bindparam("limit"))
    )


@functools.cache
def _client_id_use() -> Columns:
    first_request = (
        select(ChatRequestRow.id, ChatRequestRow.status)
        .where(
            ChatRequestRow.user_message_id == ChatMessageRow.id,
            ChatRequestRow.user_id == bindparam(_OWNER),
        )
        .order_by(ChatRequestRow.created_at)
        .limit(1)
        .lateral()
    )
    return (
        select(
            ChatMessageRow.id.label("message_id"),
            ChatMessageRow.session_id,
            (ChatSessionRow.owner_id == bindparam(_OWNER)).label("owned_by_caller"),
            first_request.c.id.label("request_id"),
            first_request.c.status.label("request_status"),
        )
        .join(ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id)
        .outerjoin(first_request, true())
        .where(ChatMessageRow.client_message_id == bindparam("client_message_id"))
    )


def _client_id_use_from(found: Row[Any] | None) -> ClientIdUse | None:
    if found is None or found.message_id is None:
        return None
    return ClientIdUse(
        found.message_id,
        found.session_id,
        bool(found.owned_by_caller),
        found.request_id,
        found.request_status,
    )


@functools.cache
def _lock_turns_of_user() -> Columns:
    return select(
        func.pg_advisory_xact_lock(
            USER_TURNS_LOCK_CLASS, func.hashtext(bindparam(_OWNER, type_=String))
        ).label("locked")
    )


@functools.cache
def _lock_turns_of_user_and_find_client_id() -> Columns:
    # The lock is the preserved side of the outer join, so it is taken whether or not the id is found.
    locked = _lock_turns_of_user().subquery("locked")
    use = _client_id_use().subquery("use")
    return select(locked.c.locked, *use.c).select_from(locked.outerjoin(use, true()))


@functools.cache
def _turn_state() -> Columns:
    mine = ChatRequestRow.user_id == bindparam(_OWNER)
    is_open = ChatRequestRow.status.in_(OPEN_REQUEST_STATUSES)
    window_start = func.now() - bindparam("window", type_=Interval)
    return select(
        func.now(),
        exists().where(mine, is_open, ChatRequestRow.session_id == bindparam("session_id")),
        select(func.count())
        .where(
            mine,
            is_open,
            ChatRequestRow.last_activity >= func.now() - bindparam("silent_after", type_=Interval),
        )
        .scalar_subquery(),
        select(func.count()).where(mine, ChatRequestRow.created_at >= window_start).scalar_subquery(),
        select(func.min(ChatRequestRow.created_at))
        .where(mine, ChatRequestRow.created_at >= window_start)
        .scalar_subquery(),
    )


# Which columns an INSERT sets, each with the SQL of its value when that is an expression (such as
# `now()`) rather than a parameter: what a built-once INSERT is remembered by.
InsertShape = tuple[tuple[str, str | None], ...]


def _with_scalar_defaults(table: Table, given: dict[str, object]) -> dict[str, object]:
    """`given`, and the Python-side default of every column not given that has a plain value as
    its default: SQLAlchemy fills those in for a plain INSERT, not for one with a WITH clause."""
    defaults = {
        column.key: column.default.arg
        for column in table.columns
        if column.key not in given and isinstance(column.default, ScalarElementColumnDefault)
    }
    return given | defaults


def _insert_shape(given: dict[str, object]) -> InsertShape:
    return tuple(
        (key, str(value) if isinstance(value, ClauseElement) else None)
        for key, value in sorted(given.items())
    )


def _insert_parameters(given: dict[str, object]) -> dict[str, object]:
    return {f"v_{key}": value for key, value in given.items() if not isinstance(value, ClauseElement)}


def _insert_values(table: Table, shape: InsertShape) -> dict[str, Any]:
    """VALUES for the given columns: each a bound parameter named `v_<column>` of the column's type
    (so a column's own type, such as StorableText, still prepares what is stored), or the SQL
    expression it was given."""
    return {
        key: bindparam(f"v_{key}", type_=table.c[key].type) if expression is None else text(expression)
        for key, expression in shape
    }


@functools.cache
def _insert_message(shape: InsertShape) -> Any:
    table = MESSAGES
    next_seq = (
        select(func.coalesce(func.max(table.c.seq), 0) + 1)
        .where(table.c.session_id == bindparam("v_session_id"))
        .scalar_subquery()
    )
    return insert(table).values(**_insert_values(table, shape), seq=next_seq).returning(*MESSAGE_READ_COLUMNS)


@functools.cache
def _append_message(shape: InsertShape, with_title: bool, with_request: bool, new_chat: bool = False) -> Any:
    """The message's INSERT, and in its WITH clause the UPDATE of its session that counts it, and,
    `with_request`, the INSERT of the request that asks for its reply, marked streaming: one
    statement, one round trip. The UPDATE needs nothing the INSERT writes (the caller holds the
    session's row lock); the request takes the new message's id from it. PostgreSQL runs every
    data-modifying WITH clause exactly once, whether or not the statement reads its result.

    `new_chat`: the session is made by this statement instead, counted and titled as it is made
    (its first message; a clause cannot see what a sibling clause writes, so it is not updated). Its
    foreign keys are checked at the statement's end, when the session is there."""
    sessions = SESSIONS
    titled = {"title": bindparam("title", type_=sessions.c.title.type)} if with_title else {}
    preview = func.left(bindparam("preview", type_=MESSAGES.c.content.type), PREVIEW_CHARS)
    if new_chat:
        given: dict[str, object] = {
            "id": bindparam("v_session_id", type_=sessions.c.id.type),
            "owner_id": bindparam("chat_owner", type_=sessions.c.owner_id.type),
            "model_endpoint": bindparam("chat_model", type_=sessions.c.model_endpoint.type),
            "message_count": 1,
            "last_message_preview": preview,
            **titled,
        }
        # With the columns whose defaults are in Python (_with_scalar_defaults), as constants.
        values = {
            key: value if key in given else literal(value, type_=sessions.c[key].type)
            for key, value in _with_scalar_defaults(sessions, given).items()
        }
        counted = insert(sessions).values(**values).returning(sessions.c.id).cte("counted")
    else:
        counted = (
            update(sessions)
            .where(sessions.c.id == bindparam("v_session_id"))
            .values(
                message_count=sessions.c.message_count + 1,
                last_message_preview=preview,
                updated_at=func.now(),
                **titled,
            )
            .returning(sessions.c.id)
            .cte("counted")
        )
    if not with_request:
        return _insert_message(shape).add_cte(counted)
    message = _insert_message(shape).cte("message")
    requests = REQUESTS
    request = (
        insert(requests)
        .from_select(
            ["id", "session_id", "user_id", "user_message_id", "status", "partial_text", "started_at"],
            select(
                bindparam("request_id", type_=requests.c.id.type),
                message.c.session_id,
                bindparam("requested_by", type_=requests.c.user_id.type),
                message.c.id,
                literal(RequestStatus.STREAMING, type_=requests.c.status.type),
                literal("", type_=requests.c.partial_text.type),
                func.now(),
            ),
        )
        .cte("request")
    )
    return select(*message.c).add_cte(counted, request)


@functools.cache
def _insert_request(shape: InsertShape) -> Any:
    table = REQUESTS
    return insert(table).values(**_insert_values(table, shape))


@functools.cache
def _request(for_update: bool) -> Select[ChatRequestRow]:
    statement = select(ChatRequestRow).where(
        ChatRequestRow.id == bindparam("request_id"), ChatRequestRow.user_id == bindparam(_OWNER)
    )
    return statement.with_for_update() if for_update else statement


@functools.cache
def _checkpoint() -> Any:
    table = REQUESTS
    return (
        update(table)
        .where(
            table.c.id == bindparam("request_id"),
            table.c.user_id == bindparam(_OWNER),
            table.c.status.in_(OPEN_REQUEST_STATUSES),
        )
        .values(
            partial_text=bindparam("partial_text", type_=table.c.partial_text.type),
            status=RequestStatus.STREAMING,
            checkpointed_at=func.now(),
        )
    )


@functools.cache
def _ratings_in_session() -> Columns:
    return (
        select(FeedbackRow.message_id, FeedbackRow.rating, FeedbackRow.comment)
        .join(ChatMessageRow, ChatMessageRow.id == FeedbackRow.message_id)
        .where(
            ChatMessageRow.session_id == bindparam("session_id"), FeedbackRow.user_id == bindparam("user_id")
        )
    )


class SessionRepository:
    def __init__(self, db: Session, *, owner_id: str) -> None:
        self._db = db
        self._owner_id = owner_id

    def _visible(self) -> Select[ChatSessionRow]:
        return select(ChatSessionRow).where(
            ChatSessionRow.owner_id == self._owner_id, ChatSessionRow.deleted_at.is_(None)
        )

    def add(self, row: ChatSessionRow) -> ChatSessionRow:
        row.owner_id = self._owner_id
        self._db.add(row)
        self._db.flush()
        return row

    def get(self, session_id: uuid.UUID) -> ChatSessionRow | None:
        return self._db.scalar(self._visible().where(ChatSessionRow.id == session_id))

    def get_for_update(self, session_id: uuid.UUID) -> ChatSessionRow | None:
        """Lock the session row: appends to one session are serialised, so sequence numbers are gap-free."""
        return self._db.scalar(_session_for_update(), {_OWNER: self._owner_id, "session_id": session_id})

    def list_recent(self, *, limit: int) -> Sequence[Row[Any]]:
        """The sidebar's chats, pinned first then most recent, as plain rows of the columns a list
        shows: every page run reads this, and loading ORM objects cost more than the query."""
        return self._db.execute(_recent_sessions(), {_OWNER: self._owner_id, "limit": limit}).all()

    def read(self, session_id: uuid.UUID) -> Row[Any] | None:
        """The session as a plain row, for reading only (no ORM object, so nothing to track)."""
        return self._db.execute(_session_row(), {_OWNER: self._owner_id, "session_id": session_id}).first()

    def count_active_since(self, since: datetime) -> int:
        statement = select(func.count()).select_from(
            self._visible().where(ChatSessionRow.updated_at >= since).subquery()
        )
        return self._db.scalar(statement) or 0

    def count_messages_since(self, since: datetime) -> int:
        statement = (
            select(func.count(ChatMessageRow.id))
            .join(ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id)
            .where(
                ChatSessionRow.owner_id == self._owner_id,
                ChatSessionRow.deleted_at.is_(None),
                ChatMessageRow.role == Role.USER,
                ChatMessageRow.created_at >= since,
            )
        )
        return self._db.scalar(statement) or 0

    def delete(self, session_id: uuid.UUID) -> None:
        """Mark the session deleted: it leaves every list and page at once, and can be restored until
        `purge_deleted_sessions` removes it with its messages, requests and feedback."""
        self._db.execute(
            update(ChatSessionRow)
            .where(
                ChatSessionRow.id == session_id,
                ChatSessionRow.owner_id == self._owner_id,
                ChatSessionRow.deleted_at.is_(None),
            )
            .values(deleted_at=func.now())
        )

    def restore(self, session_id: uuid.UUID, *, deleted_since: datetime) -> bool:
        """Undo a delete made at or after `deleted_since`. Returns whether there was one to undo."""
        result = self._db.execute(
            update(ChatSessionRow)
            .where(
                ChatSessionRow.id == session_id,
                ChatSessionRow.owner_id == self._owner_id,
                ChatSessionRow.deleted_at >= deleted_since,
            )
            .values(deleted_at=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def set_model_title(self, session_id: uuid.UUID, title: str) -> None:
        """A title the model wrote, unless the owner renamed the chat meanwhile."""
        self._db.execute(
            update(ChatSessionRow)
            .where(
                ChatSessionRow.id == session_id,
                ChatSessionRow.owner_id == self._owner_id,
                ChatSessionRow.title_is_custom.is_(False),
            )
            .values(title=title)
        )

    def count_all(self) -> int:
        """Every chat of the owner's, archived ones included."""
        return self._db.scalar(select(func.count()).select_from(self._visible().subquery())) or 0

    def ids_oldest_first(self, *, offset: int, limit: int) -> Sequence[uuid.UUID]:
        return self._db.scalars(
            select(ChatSessionRow.id)
            .where(ChatSessionRow.owner_id == self._owner_id, ChatSessionRow.deleted_at.is_(None))
            .order_by(ChatSessionRow.created_at, ChatSessionRow.id)
            .offset(offset)
            .limit(limit)
        ).all()


class MessageRepository:
    """Messages of one owner's sessions. Callers lock the session (SessionRepository.get_for_update)
    before `append`, which takes the next sequence number inside the INSERT itself."""

    def __init__(self, db: Session, *, owner_id: str) -> None:
        self._db = db
        self._owner_id = owner_id

    def append(
        self,
        row: ChatMessageRow,
        *,
        new_title: str | None = None,
        request_id: uuid.UUID | None = None,
        new_chat: ChatSessionRow | None = None,
    ) -> ChatMessageRow:
        """Insert `row` as the session's next message, and count it on the session, in one round
        trip: the INSERT computes `seq` and returns every stored column (bar the search vector),
        which are set on `row`; `row` itself stays outside the ORM session (nothing later changes
        it). `new_title`, if given, becomes the chat's title in the same statement. `request_id`,
        if given, is the id of a request for this message's reply, inserted in the same statement
        too, marked streaming and started now (a submit that calls the model once it commits).

        The history list shows counts and the last message without touching chat_message; a new
        message is also what moves a chat up the recent list. The session's UPDATE is Core SQL: the
        caller's loaded session object is left as it was (an ORM UPDATE re-evaluates the new values
        in Python on every loaded session, about a twelfth of the app's time under load).

        `new_chat`, for a chat's first message: the chat (its id, model and, with `new_title`, title),
        inserted by the same statement instead of counted by it; `new_chat` stays outside the ORM
        session. A chat's first turn is then one round trip fewer, and has no ORM flush."""
        given = _with_scalar_defaults(MESSAGES, _given_values(row))
        parameters = _insert_parameters(given) | {"preview": row.content}
        if new_title is not None:
            parameters["title"] = new_title
        if request_id is not None:
            # No parameter may share a column's name: SQLAlchemy would add it to the UPDATE's SET.
            parameters |= {"request_id": request_id, "requested_by": self._owner_id}
        if new_chat is not None:
            if new_title is None:  # the statement sets no column the INSERT would leave to Python
                raise ValueError("A new chat is made with its title.")
            parameters |= {"chat_owner": self._owner_id, "chat_model": new_chat.model_endpoint}
        statement = _append_message(
            _insert_shape(given), new_title is not None, request_id is not None, new_chat is not None
        )
        inserted = self._db.execute(statement, parameters).one()
        for key, value in inserted._mapping.items():
            setattr(row, key, value)
        return row

    def get(self, message_id: int) -> ChatMessageRow | None:
        return self._db.scalar(
            select(ChatMessageRow)
            .join(ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id)
            .where(
                ChatMessageRow.id == message_id,
                ChatSessionRow.owner_id == self._owner_id,
                ChatSessionRow.deleted_at.is_(None),
            )
        )

    def last_user_message_id(self, session_id: uuid.UUID) -> int | None:
        return self._db.scalar(
            select(func.max(ChatMessageRow.id))
            .join(ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id)
            .where(
                ChatMessageRow.session_id == session_id,
                ChatSessionRow.owner_id == self._owner_id,
                ChatMessageRow.role == Role.USER,
            )
        )

    def add_imported(self, row: ChatMessageRow) -> None:
        """A message from an import file, into a session the import has just created (its sequence
        numbers and the session's counts are the import's to set)."""
        self._db.add(row)

    def client_id_use(self, client_message_id: str) -> ClientIdUse | None:
        """Who holds this client id, if anyone (it is unique across the table), and the request its
        message was sent with: one round trip answers both "is this a replay of my submit?" and "is
        it someone else's id?". A deleted chat's message still holds its id."""
        return _client_id_use_from(
            self._db.execute(
                _client_id_use(), {_OWNER: self._owner_id, "client_message_id": client_message_id}
            ).first()
        )

    def list_for_session(self, session_id: uuid.UUID) -> Sequence[ChatMessageRow]:
        return self._db.scalars(
            select(ChatMessageRow)
            .join(ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id)
            .where(
                ChatMessageRow.session_id == session_id,
                ChatSessionRow.owner_id == self._owner_id,
                ChatSessionRow.deleted_at.is_(None),
            )
            .order_by(ChatMessageRow.seq)
        ).all()

    def list_latest(self, session_id: uuid.UUID, *, limit: int) -> Sequence[Row[Any]]:
        """The newest `limit` messages of a session, oldest first (a long chat's visible end), as
        plain rows (every page run reads these; ORM objects cost more than the query)."""
        rows = self._db.execute(
            _latest_messages(), {_OWNER: self._owner_id, "session_id": session_id, "limit": limit}
        ).all()
        return list(reversed(rows))

    def supersede_from(self, session_id: uuid.UUID, message_id: int) -> None:
        """Mark `message_id` and every later message of the chat as replaced by an edit."""
        first = select(ChatMessageRow.seq).where(ChatMessageRow.id == message_id).scalar_subquery()
        self._db.execute(
            update(ChatMessageRow)
            .where(
                ChatMessageRow.session_id == session_id,
                ChatMessageRow.seq >= first,
                ChatMessageRow.session_id.in_(
                    select(ChatSessionRow.id).where(ChatSessionRow.owner_id == self._owner_id)
                ),
            )
            .values(superseded=True)
        )

    def list_recent_for_context(
        self, session_id: uuid.UUID, *, up_to_seq: int, limit: int
    ) -> list[tuple[str, str, str]]:
        """(role, content, status) of the newest `limit` messages at or before `up_to_seq` that an
        edit did not replace, oldest first."""
        rows = self._db.execute(
            _messages_for_context(),
            {_OWNER: self._owner_id, "session_id": session_id, "up_to_seq": up_to_seq, "limit": limit},
        ).all()
        return [(role, content, status) for role, content, status in reversed(rows)]


class RequestRepository:
    def __init__(self, db: Session, *, owner_id: str) -> None:
        self._db = db
        self._owner_id = owner_id

    def add(self, row: ChatRequestRow) -> ChatRequestRow:
        """Insert `row` with a plain INSERT (the ORM's flush cost more than the round trip); `row`
        stays outside the ORM session and carries what was given, its id included."""
        row.user_id = self._owner_id
        if row.id is None:
            row.id = uuid.uuid4()
        given = _given_values(row)
        self._db.execute(_insert_request(_insert_shape(given)), _insert_parameters(given))
        return row

    def get(self, request_id: uuid.UUID, *, for_update: bool = False) -> ChatRequestRow | None:
        return self._db.scalar(_request(for_update), {"request_id": request_id, _OWNER: self._owner_id})

    def open_for_session(self, session_id: uuid.UUID) -> ChatRequestRow | None:
        return self._db.scalar(
            select(ChatRequestRow)
            .where(
                ChatRequestRow.session_id == session_id,
                ChatRequestRow.user_id == self._owner_id,
                ChatRequestRow.status.in_(OPEN_REQUEST_STATUSES),
            )
            .order_by(ChatRequestRow.created_at.desc())
            .limit(1)
        )

    def lock_turns_of_user(self) -> None:
        """Serialise this user's new turns until the transaction ends, across every app instance,
        so that two submits at once cannot both pass the per-user limits. Taken before the chat's
        row lock, by every use case that takes both."""
        self._db.execute(_lock_turns_of_user(), {_OWNER: self._owner_id})

    def lock_turns_of_user_and_find_client_id(self, client_message_id: str) -> ClientIdUse | None:
        """`lock_turns_of_user`, and in the same round trip `MessageRepository.client_id_use`.

        The lookup's snapshot may be older than the lock (PostgreSQL takes it when the statement
        starts): a submit with the same id that commits meanwhile is not seen here, and this one's
        INSERT then meets the unique client id instead, as a submit that raced it always could."""
        return _client_id_use_from(
            self._db.execute(
                _lock_turns_of_user_and_find_client_id(),
                {_OWNER: self._owner_id, "client_message_id": client_message_id},
            ).first()
        )

    def turn_state(self, session_id: uuid.UUID, *, silent_after: timedelta, window: timedelta) -> TurnState:
        """What a new turn is checked against, in one round trip: whether the chat already has an
        unfinished request, how many of this user's requests are being answered (one silent for
        `silent_after` has lost its runner and no longer counts), and how many the user started in
        the last `window`, with the oldest of those. Times are the transaction's own `now()`."""
        row = self._db.execute(
            _turn_state(),
            {
                _OWNER: self._owner_id,
                "session_id": session_id,
                "silent_after": silent_after,
                "window": window,
            },
        ).one()
        now, chat_busy, in_progress, recent, oldest_recent = row
        return TurnState(now, bool(chat_busy), in_progress or 0, recent or 0, oldest_recent)

    def checkpoint(self, request_id: uuid.UUID, partial_text: str) -> None:
        parameters = {"request_id": request_id, _OWNER: self._owner_id, "partial_text": partial_text}
        self._db.execute(_checkpoint(), parameters)


def purge_deleted_sessions(db: Session, *, deleted_before: datetime) -> int:
    """Remove, for every user, the sessions deleted before `deleted_before`, with their messages,
    requests and feedback (foreign keys cascade). Returns how many sessions went."""
    result = db.execute(delete(ChatSessionRow).where(ChatSessionRow.deleted_at < deleted_before))
    return int(result.rowcount)  # type: ignore[attr-defined]


def open_requests_of_all_users(db: Session) -> Sequence[ChatRequestRow]:
    """Start-up recovery only: requests a dead process left unfinished, whoever they belong to."""
    return db.scalars(
        select(ChatRequestRow).where(ChatRequestRow.status.in_(OPEN_REQUEST_STATUSES)).with_for_update()
    ).all()


class TraceRatingRepository:
    """Ratings of replies that have an MLflow trace, for sending to the workspace as assessments.

    Across all users: the sender works for the whole app, never for a page.
    """

    def __init__(self, db: Session) -> None:
        self._db = db

    def unsent(self, *, limit: int, max_attempts: int) -> Sequence[tuple[FeedbackRow, str]]:
        """Ratings changed since they were last sent, with their reply's trace id, oldest first."""
        trace_id = ChatMessageRow.details["trace_id"].astext
        statement = (
            select(FeedbackRow, trace_id)
            .join(ChatMessageRow, ChatMessageRow.id == FeedbackRow.message_id)
            .where(
                FeedbackRow.trace_synced_at.is_(None),
                FeedbackRow.trace_sync_attempts < max_attempts,
                trace_id.is_not(None),
            )
            .order_by(FeedbackRow.updated_at)
            .limit(limit)
        )
        return [(row, trace) for row, trace in self._db.execute(statement).all()]

    def mark_sent(self, feedback_id: int, *, as_of: datetime, assessment_id: str | None) -> bool:
        """Record that the rating as it was at `as_of` was sent. False when it changed meanwhile:
        it then stays unsent and goes again (as an update of the same assessment)."""
        result = self._db.execute(
            update(FeedbackRow)
            .where(FeedbackRow.id == feedback_id)
            .values(trace_assessment_id=func.coalesce(assessment_id, FeedbackRow.trace_assessment_id))
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        result = self._db.execute(
            update(FeedbackRow)
            .where(FeedbackRow.id == feedback_id, FeedbackRow.updated_at == as_of)
            .values(trace_synced_at=func.now(), trace_sync_attempts=0)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def attempts(self, feedback_id: int, *, missing: int) -> int:
        """How often sending the rating failed (`missing` when the rating is gone)."""
        row = self._db.get(FeedbackRow, feedback_id)
        return row.trace_sync_attempts if row is not None else missing

    def count_failure(self, feedback_id: int) -> None:
        self._db.execute(
            update(FeedbackRow)
            .where(FeedbackRow.id == feedback_id)
            .values(trace_sync_attempts=FeedbackRow.trace_sync_attempts + 1)
        )


def database_now(db: Session) -> datetime:
    """The database's clock: every app instance measures ages against the same one."""
    return db.scalar(select(func.now()))  # type: ignore[return-value]


class FeedbackRepository:
    """One user's ratings of their own replies: one per reply, changeable."""

    def __init__(self, db: Session, *, user_id: str) -> None:
        self._db = db
        self._user_id = user_id

    def remove(self, message_id: int) -> None:
        self._db.execute(
            delete(FeedbackRow).where(
                FeedbackRow.message_id == message_id, FeedbackRow.user_id == self._user_id
            )
        )

    def save(self, message_id: int, rating: int, comment: str | None) -> None:
        statement = insert(FeedbackRow).values(
            message_id=message_id, user_id=self._user_id, rating=rating, comment=comment
        )
        self._db.execute(
            statement.on_conflict_do_update(
                constraint="uq_feedback_message_user",
                # A changed rating is sent to the reply's trace again (services.trace_feedback).
                set_={
                    "rating": rating,
                    "comment": comment,
                    "updated_at": func.now(),
                    "trace_synced_at": None,
                    "trace_sync_attempts": 0,
                },
            )
        )

    def in_session(self, session_id: uuid.UUID) -> Sequence[tuple[int, int, str | None]]:
        """(message id, rating, comment) of the user's ratings in one session."""
        rows = self._db.execute(
            _ratings_in_session(), {"session_id": session_id, "user_id": self._user_id}
        ).all()
        return [(message_id, rating, comment) for message_id, rating, comment in rows]


class AdminRepository:
    """What admins read across all users: any conversation, and the audit log of those reads.
    The service checks that the caller is an admin before it builds one."""

    def __init__(self, db: Session) -> None:
        self._db = db

    def session(self, session_id: uuid.UUID) -> ChatSessionRow | None:
        return self._db.scalar(
            select(ChatSessionRow).where(ChatSessionRow.id == session_id, ChatSessionRow.deleted_at.is_(None))
        )

    def messages(self, session_id: uuid.UUID) -> Sequence[ChatMessageRow]:
        return self._db.scalars(
            select(ChatMessageRow).where(ChatMessageRow.session_id == session_id).order_by(ChatMessageRow.seq)
        ).all()

    def ratings(self, session_id: uuid.UUID) -> Sequence[FeedbackRow]:
        """Every rating given to the conversation's replies, oldest first."""
        return self._db.scalars(
            select(FeedbackRow)
            .join(ChatMessageRow, ChatMessageRow.id == FeedbackRow.message_id)
            .where(ChatMessageRow.session_id == session_id)
            .order_by(FeedbackRow.updated_at)
        ).all()

    def record_view(self, *, admin_id: str, session: ChatSessionRow) -> None:
        self._db.add(
            AdminAuditRow(
                admin_id=admin_id,
                owner_id=session.owner_id,
                session_id=session.id,
                session_title=session.title,
            )
        )

    def recent_views(self, *, limit: int) -> Sequence[AdminAuditRow]:
        return self._db.scalars(
            select(AdminAuditRow).order_by(AdminAuditRow.viewed_at.desc()).limit(limit)
        ).all()
