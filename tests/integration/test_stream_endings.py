"""Streams that end badly, through the whole turn against the fake serving endpoint (issue 10, part 3):
each is stored and shown for what it is, never as a complete reply."""

from __future__ import annotations

import pytest

from services.views import MessageView
from tests.integration.helpers import ALICE, one_turn, use_fake_workspace

pytestmark = pytest.mark.integration


def reply_from(fake_serving, app_env, endpoint: str, question: str) -> MessageView:
    """The stored reply of a one-turn chat with `endpoint` of the serving stand-in, 16 max tokens."""
    use_fake_workspace(app_env, fake_serving, endpoint)
    app_env.setenv("LLM_MAX_TOKENS", "16")
    return one_turn(ALICE, question)


@pytest.mark.parametrize(
    ("endpoint", "status", "text", "note"),
    [
        ("cut-stream", "error", "Served reply", "stream was cut off"),
        ("empty", "error", "", "empty reply"),
        ("runaway", "stopped", "on" + " on" * 15, "kept writing past this chat's limit of 16 tokens"),
        ("rejects-stream-options", "complete", "Served reply to: hello", None),
    ],
)
def test_how_a_stream_ended_is_what_is_stored(
    fake_serving, app_env, clean_db, endpoint, status, text, note
) -> None:
    reply = reply_from(fake_serving, app_env, endpoint, "hello")
    assert (reply.role, reply.status, reply.content) == ("assistant", status, text)
    if note is None:
        assert reply.error_message is None
    else:
        assert note in (reply.error_message or "")


def test_a_reply_cut_by_the_endpoint_at_max_tokens_is_stored_as_stopped_with_its_reason(
    fake_serving, app_env, clean_db
) -> None:
    question = " ".join(f"word{index}" for index in range(20))  # the stand-in's reply repeats it
    reply = reply_from(fake_serving, app_env, "chat", question)
    assert reply.status == "stopped"
    assert reply.content == "Served reply to: " + " ".join(f"word{index}" for index in range(13))
    assert "stopped at this chat's limit of 16 tokens" in (reply.error_message or "")
