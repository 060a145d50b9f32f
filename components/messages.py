"""The message list: each turn in a chat bubble, with a caption of its figures under each reply."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import streamlit as st

from components.markup import message_markdown, plain
from services.views import MessageView

_STATUS_NOTES = {
    "stopped": "Stopped by you.",
    "interrupted": "Interrupted: the app restarted while this reply was being written.",
}


def reply_caption(message: MessageView) -> str:
    parts = [plain(message.model) if message.model else "model unknown"]
    if message.prompt_tokens is not None or message.completion_tokens is not None:
        parts.append(f"{message.prompt_tokens or 0:,} → {message.completion_tokens or 0:,} tokens")
    if message.time_to_first_token_ms is not None:
        parts.append(f"first token {message.time_to_first_token_ms / 1000:.2f} s")
    if message.latency_ms is not None:
        parts.append(f"{message.latency_ms / 1000:.2f} s total")
    return " · ".join(parts)


def render_message(message: MessageView, *, below_reply: Callable[[MessageView], None] | None = None) -> None:
    with st.chat_message(message.role):
        # Markdown with HTML off and images as links (components.markup): never trusted as HTML.
        if message.content:
            st.markdown(message_markdown(message.content))
        if message.role == "assistant":
            render_reply_footer(message)
            if below_reply is not None:
                below_reply(message)


def render_reply_footer(message: MessageView) -> None:
    """Under a reply: what went wrong, if anything, then its model and figures."""
    if message.status == "error" and message.error_message:
        st.error(message.error_message, icon=":material/error:")
    elif message.status in _STATUS_NOTES:
        st.warning(message.error_message or _STATUS_NOTES[message.status], icon=":material/pause_circle:")
    st.caption(reply_caption(message))


def render_streaming_reply(batches: Iterator[str]) -> str:
    """A reply as it streams: redrawn whole at each batch (about ten a second), so that the image
    rule applies to the text so far, never to a fragment in which `![` is split across batches."""
    slot = st.empty()
    text = ""
    for batch in batches:
        text += batch
        slot.markdown(message_markdown(text))
    return text


def render_messages(
    messages: list[MessageView], *, below_reply: Callable[[MessageView], None] | None = None
) -> None:
    """The conversation; `below_reply` draws extra widgets (feedback) under each reply."""
    for message in messages:
        render_message(message, below_reply=below_reply)
