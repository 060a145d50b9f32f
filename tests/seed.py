"""Seed chats straight into the database: fast and deterministic, for tests that browse history."""

from __future__ import annotations

import uuid
from datetime import datetime

from persistence.database import unit_of_work
from persistence.orm import ChatMessageRow, ChatSessionRow


def add_session(
    sessions,
    owner: str,
    title: str,
    messages: list[str],
    *,
    updated: datetime | None = None,
    model: str = "model-a",
) -> uuid.UUID:
    """A session with alternating user/assistant messages, written directly (fast, deterministic)."""
    with unit_of_work(sessions) as db:
        row = ChatSessionRow(owner_id=owner, title=title, model_endpoint=model)
        db.add(row)
        db.flush()
        for index, content in enumerate(messages, start=1):
            db.add(
                ChatMessageRow(
                    session_id=row.id,
                    seq=index,
                    role="user" if index % 2 else "assistant",
                    content=content,
                    status="complete",
                    model=None if index % 2 else model,
                    prompt_tokens=None if index % 2 else 10 + index,
                    completion_tokens=None if index % 2 else 20 + index,
                    latency_ms=None if index % 2 else 900,
                )
            )
        row.message_count = len(messages)
        row.last_message_preview = messages[-1][:200] if messages else None
        if updated is not None:
            row.updated_at = updated
        db.commit()
        return row.id
