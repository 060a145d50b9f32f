"""A user's chats as files: one chat exported as JSON or Markdown, all of them as JSON Lines (in
parts), and a JSON export imported back as a new chat.

A file is the user's word, not this app's record: an import checks every field, bounds sizes, marks
the messages imported (so usage figures leave them out) and drops what a file must not decide.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session, sessionmaker

from persistence.database import unit_of_work
from persistence.orm import ChatMessageRow, ChatSessionRow
from persistence.reconnect import safe_to_repeat
from persistence.repositories import PREVIEW_CHARS, MessageRepository, SessionRepository
from persistence.statuses import MessageStatus, Role
from services.errors import SessionNotFound, UserError
from services.model_settings import MAX_TOKENS_LIMIT
from services.reply_details import ReplyDetails
from services.text import make_storable
from services.views import User

IMPORT_MAX_BYTES = 5_000_000
IMPORT_MAX_MESSAGES = 5_000
IMPORT_BATCH = 500
_INT32_MAX = 2**31 - 1
# A download is built whole in memory, so "export all" comes in parts of this many chats.
EXPORT_CHATS_PER_PART = 500
EXPORT_FORMAT = "lakebase-chat.session"
EXPORT_VERSION = 1


class InvalidImport(UserError):
    """A file that is not one of this app's JSON exports."""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _readable_time(value: str | None) -> str:
    """An exported ISO time as a person reads it: "29 Nov 2026, 14:05 UTC"."""
    if not value:
        return "unknown"
    return f"{datetime.fromisoformat(value).astimezone(UTC):%d %b %Y, %H:%M} UTC"


def export_file_name(title: str, extension: str) -> str:
    """A file name from a chat's title: lower-case words joined by single hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].rstrip("-")
    return f"{slug or 'chat'}.{extension}"


def _parse_time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidImport(f"`{name}` must be a date and time in ISO format.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidImport(f"`{name}` is not a date and time in ISO format.") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ChatFiles:
    def __init__(
        self,
        *,
        transactions: sessionmaker[Session],
        endpoint_allowed: Callable[[str], bool] = lambda _: False,
    ) -> None:
        """`endpoint_allowed` says whether an imported chat may keep its model endpoint
        (EndpointCatalog.allows); a chat whose endpoint is not allowed is imported with the default."""
        self._transactions = transactions
        self._endpoint_allowed = endpoint_allowed

    def _export_document(self, db: Session, user: User, session_id: uuid.UUID) -> dict[str, Any]:
        row = SessionRepository(db, owner_id=user.email).get(session_id)
        if row is None:
            raise SessionNotFound()
        messages = MessageRepository(db, owner_id=user.email).list_for_session(session_id)
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "session": {
                "id": str(row.id),
                "title": row.title,
                "title_is_custom": row.title_is_custom,
                "model_endpoint": row.model_endpoint,
                "system_prompt": row.system_prompt,
                "temperature": row.temperature,
                "max_tokens": row.max_tokens,
                "pinned": row.pinned,
                "archived_at": _iso(row.archived_at),
                "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at),
            },
            "messages": [
                {
                    "seq": m.seq,
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "model": m.model,
                    "prompt_tokens": m.prompt_tokens,
                    "completion_tokens": m.completion_tokens,
                    "time_to_first_token_ms": m.time_to_first_token_ms,
                    "latency_ms": m.latency_ms,
                    "error_message": m.error_message,
                    "created_at": _iso(m.created_at),
                    **({"details": m.details} if m.details else {}),
                    **({"superseded": True} if m.superseded else {}),
                }
                for m in messages
            ],
        }

    @safe_to_repeat
    def export_json(self, user: User, session_id: uuid.UUID) -> str:
        with unit_of_work(self._transactions) as db:
            return (
                json.dumps(self._export_document(db, user, session_id), ensure_ascii=False, indent=2) + "\n"
            )

    @safe_to_repeat
    def export_markdown(self, user: User, session_id: uuid.UUID) -> str:
        with unit_of_work(self._transactions) as db:
            document = self._export_document(db, user, session_id)
        session = document["session"]
        lines = [
            f"# {session['title']}",
            "",
            f"- Model: {session['model_endpoint'] or 'default'}",
            f"- Started: {_readable_time(session['created_at'])}",
            f"- Last activity: {_readable_time(session['updated_at'])}",
            "",
        ]
        for message in document["messages"]:
            who = "You" if message["role"] == Role.USER else "Assistant"
            status = "" if message["status"] == MessageStatus.COMPLETE else f" ({message['status']})"
            if message.get("superseded"):
                status += " (replaced by an edit)"
            lines += [f"## {who}{status}", ""]
            details = ReplyDetails.from_json(message.get("details"))
            for step in details.steps:
                result = "" if step.result is None else f" → `{_one_line(step.result)}`"
                lines.append(f"- Tool `{step.name or 'tool'}` (`{_one_line(step.arguments)}`){result}")
            lines += ["", message["content"], ""] if details.steps else [message["content"], ""]
            if details.sources:
                lines += ["Sources:", ""]
                lines += [
                    f"{number}. {source.title}" + (f" <{source.link}>" if source.link else "")
                    for number, source in enumerate(details.sources, start=1)
                ]
                lines.append("")
            if message["error_message"]:
                lines += [f"> {message['error_message']}", ""]
        return "\n".join(lines)

    def count_exportable(self, user: User) -> int:
        with unit_of_work(self._transactions) as db:
            return SessionRepository(db, owner_id=user.email).count_all()

    def export_all_jsonl(
        self, user: User, *, part: int = 0, chats_per_part: int = EXPORT_CHATS_PER_PART
    ) -> Iterator[str]:
        """One part of the user's sessions (`chats_per_part` of them, oldest first) as one JSON
        document per line, read in batches. A download is built whole in memory by Streamlit, so
        a long history is exported in parts rather than as one string of everything."""
        with unit_of_work(self._transactions) as db:
            ids = SessionRepository(db, owner_id=user.email).ids_oldest_first(
                offset=part * chats_per_part, limit=chats_per_part
            )
        for start in range(0, len(ids), 100):
            with unit_of_work(self._transactions) as db:
                for session_id in ids[start : start + 100]:
                    document = self._export_document(db, user, session_id)
                    yield json.dumps(document, ensure_ascii=False) + "\n"

    def import_json(self, user: User, data: bytes | str) -> uuid.UUID:
        """Add one session from this app's JSON export to the user's history, as a new session.

        The file is the user's word, not this app's record: its messages are marked imported (left
        out of usage figures), and settings outside what a chat may use fall back to the defaults.
        """
        if len(data) > IMPORT_MAX_BYTES:
            raise InvalidImport(
                f"The file is {len(data) / 1_000_000:.1f} MB; chats of up to "
                f"{IMPORT_MAX_BYTES // 1_000_000} MB can be imported. Nothing was imported."
            )
        document = _parse_export(data)
        session = document["session"]
        if len(document["messages"]) > IMPORT_MAX_MESSAGES:
            raise InvalidImport(
                f"The chat has {len(document['messages']):,} messages; up to {IMPORT_MAX_MESSAGES:,} can be "
                "imported at once. Nothing was imported."
            )
        endpoint = _optional_text(session.get("model_endpoint"), "session.model_endpoint")
        if endpoint is not None and not self._endpoint_allowed(endpoint):
            endpoint = None
        with unit_of_work(self._transactions) as db:
            messages_repository = MessageRepository(db, owner_id=user.email)
            row = SessionRepository(db, owner_id=user.email).add(
                ChatSessionRow(
                    title=_text(session.get("title"), "session.title") or "Imported chat",
                    title_is_custom=bool(session.get("title_is_custom", False)),
                    model_endpoint=endpoint,
                    system_prompt=_optional_text(session.get("system_prompt"), "session.system_prompt"),
                    temperature=_in_range(
                        _optional_number(session.get("temperature"), "session.temperature"), 0.0, 2.0
                    ),
                    max_tokens=_in_range(
                        _optional_int(session.get("max_tokens"), "session.max_tokens"), 1, MAX_TOKENS_LIMIT
                    ),
                    pinned=bool(session.get("pinned", False)),
                    archived_at=_parse_time(session.get("archived_at"), "session.archived_at"),
                    created_at=_parse_time(session.get("created_at"), "session.created_at") or func.now(),
                    updated_at=_parse_time(session.get("updated_at"), "session.updated_at") or func.now(),
                )
            )
            messages = sorted(document["messages"], key=lambda m: m["seq"])
            for index, message in enumerate(messages, start=1):
                name = f"messages[{index - 1}]"
                messages_repository.add_imported(
                    ChatMessageRow(
                        session_id=row.id,
                        seq=index,
                        role=message["role"],
                        content=_text(message.get("content"), f"{name}.content"),
                        status=message["status"],
                        model=_optional_text(message.get("model"), f"{name}.model"),
                        prompt_tokens=_optional_int(message.get("prompt_tokens"), f"{name}.prompt_tokens"),
                        completion_tokens=_optional_int(
                            message.get("completion_tokens"), f"{name}.completion_tokens"
                        ),
                        time_to_first_token_ms=_optional_int(
                            message.get("time_to_first_token_ms"), f"{name}.time_to_first_token_ms"
                        ),
                        latency_ms=_optional_int(message.get("latency_ms"), f"{name}.latency_ms"),
                        error_message=_optional_text(message.get("error_message"), f"{name}.error_message"),
                        created_at=_parse_time(message.get("created_at"), f"{name}.created_at") or func.now(),
                        details=_imported_details(message.get("details"), f"{name}.details"),
                        superseded=message.get("superseded") is True,
                        imported=True,
                    )
                )
                if index % IMPORT_BATCH == 0:
                    db.flush()  # insert in batches: a long chat never sits whole in the unit of work
            row.message_count = len(messages)
            row.last_message_preview = (
                _text(messages[-1].get("content"), "content")[:PREVIEW_CHARS] if messages else None
            )
            db.commit()
            return row.id


_ROLES = set(Role)
_STATUSES = set(MessageStatus)
NOT_AN_EXPORT = "This file is not a chat exported from this app (a JSON file from Export → JSON)."


def _parse_export(data: bytes | str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidImport(NOT_AN_EXPORT + " It is not valid JSON.") from error
    except RecursionError as error:  # arrays nested thousands deep
        raise InvalidImport(NOT_AN_EXPORT + " It is nested too deeply.") from error
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise InvalidImport(NOT_AN_EXPORT)
    if document.get("version") != EXPORT_VERSION:
        raise InvalidImport(f"This export has version {document.get('version')!r}; this app reads version 1.")
    if not isinstance(document.get("session"), dict) or not isinstance(document.get("messages"), list):
        raise InvalidImport(NOT_AN_EXPORT + " It has no `session` or no `messages`.")
    for index, message in enumerate(document["messages"]):
        if not isinstance(message, dict):
            raise InvalidImport(f"messages[{index}] is not an object.")
        if message.get("role") not in _ROLES:
            raise InvalidImport(f"messages[{index}].role must be `user` or `assistant`.")
        if message.get("status") not in _STATUSES:
            raise InvalidImport(f"messages[{index}].status must be one of {', '.join(sorted(_STATUSES))}.")
        if not isinstance(message.get("seq"), int):
            raise InvalidImport(f"messages[{index}].seq must be a whole number.")
    return document


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _imported_details(value: Any, name: str) -> dict[str, Any] | None:
    """A reply's steps, reasoning and sources from the file. Its request and trace ids are dropped:
    they would let a file attach this user's ratings to any trace in the workspace."""
    try:
        details = ReplyDetails.from_json(value)
    except ValueError as error:
        raise InvalidImport(f"{name}: {error}. Nothing was imported.") from None
    return dataclasses.replace(details, request_id=None, trace_id=None).to_json()


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidImport(f"`{name}` must be text.")
    return make_storable(value).text


def _optional_text(value: Any, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _optional_int(value: Any, name: str) -> int | None:
    """A whole number a PostgreSQL integer column holds; a figure beyond it is dropped, not stored."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidImport(f"`{name}` must be a whole number.")
    return value if 0 <= value <= _INT32_MAX else None


def _optional_number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidImport(f"`{name}` must be a number.")
    number = float(value)
    return number if math.isfinite(number) else None


def _in_range(value: float | int | None, lowest: float, highest: float) -> Any:
    """A chat setting inside what a chat may use, or None (the default) when outside it."""
    return value if value is not None and lowest <= value <= highest else None
