"""One row of the history list: title, model, message count, last activity and a snippet."""

from __future__ import annotations

from datetime import UTC, datetime

from components.markup import markdown_as_text, plain, plain_piece
from services.history import HistoryItem


def relative_time(moment: datetime, *, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours > 1 else ''} ago"
    if seconds < 2 * 86_400:
        return "yesterday"
    if seconds < 7 * 86_400:
        return f"{int(seconds // 86_400)} days ago"
    return f"{moment:%d %b %Y}"


def snippet_markdown(item: HistoryItem) -> str:
    if item.snippet:
        return "".join(
            f"**{plain(text)}**" if highlighted else plain_piece(markdown_as_text(text))
            for text, highlighted in item.snippet
        )
    preview = " ".join(markdown_as_text(item.last_message_preview or "").split())
    return plain(preview[:160] + ("…" if len(preview) > 160 else ""))


def item_caption(item: HistoryItem) -> str:
    parts = [
        plain(item.model_endpoint or "default model"),
        f"{item.message_count} message{'s' if item.message_count != 1 else ''}",
        relative_time(item.updated_at),
    ]
    if item.archived:
        parts.append("archived")
    return " · ".join(parts)
