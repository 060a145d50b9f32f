"""Hardening from the security review (finding 9): Stop works at once, a stopped queued turn never
calls the model, and an unexpected failure closes the request instead of blocking the chat."""

from __future__ import annotations

import time

import pytest

from tests.fakes.models import ScriptedModel
from tests.integration.helpers import ALICE, BOB, chat_service, wait_for_reply, wait_until

pytestmark = pytest.mark.integration


def test_stop_takes_effect_before_the_first_token(sessions) -> None:
    model = ScriptedModel(first_token_delay=5.0)
    service = chat_service(sessions, model)
    chat = service.create_session(ALICE)
    result = service.submit_message(ALICE, chat.id, "slow one", client_message_id="slow")
    wait_until(lambda: model.calls, what="the model call")  # the model has it, and sends nothing yet
    stopped_at = time.monotonic()
    assert service.stop(ALICE, result.request_id)
    wait_for_reply(service, ALICE, chat.id, timeout=3)
    assert time.monotonic() - stopped_at < 2  # not the model's 5 s
    assert service.messages(ALICE, chat.id)[-1].status == "stopped"


def test_a_turn_stopped_while_queued_never_calls_the_model(sessions) -> None:
    model = ScriptedModel()
    model.release.clear()
    service = chat_service(sessions, model, turn_workers=1)
    busy = service.create_session(BOB)
    service.submit_message(BOB, busy.id, "holds the only worker", client_message_id="busy")
    wait_until(lambda: model.calls, what="the busy turn's model call")
    chat = service.create_session(ALICE)
    queued = service.submit_message(ALICE, chat.id, "never sent", client_message_id="queued")
    assert service.stop(ALICE, queued.request_id)
    model.release.set()
    wait_for_reply(service, BOB, busy.id)
    wait_for_reply(service, ALICE, chat.id)
    assert len(model.calls) == 1
    assert service.messages(ALICE, chat.id)[-1].status == "stopped"


class BrokenModel(ScriptedModel):
    def stream_chat(self, messages, params):
        raise RuntimeError("a bug, not a model error")


def test_an_unexpected_failure_closes_the_request_and_the_chat_takes_the_next_message(sessions) -> None:
    service = chat_service(sessions, BrokenModel())
    chat = service.create_session(ALICE)
    service.submit_message(ALICE, chat.id, "first", client_message_id="b-1")
    wait_for_reply(service, ALICE, chat.id, timeout=3)
    reply = service.messages(ALICE, chat.id)[-1]
    assert (reply.role, reply.status) == ("assistant", "error")
    assert "press Retry" in (reply.error_message or "")
    service.submit_message(ALICE, chat.id, "second", client_message_id="b-2")  # not "in progress"
