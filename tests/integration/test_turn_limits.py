"""Per-user turn limits (security finding 5): concurrent replies across a user's chats and turns per
minute, enforced in the database before any model call, across app instances, without touching
other users."""

from __future__ import annotations

import threading
import uuid

import pytest

from services.chat import TurnLimitReached
from tests.fakes.models import ScriptedModel
from tests.integration.helpers import ALICE, BOB, chat_service, wait_for_reply

pytestmark = pytest.mark.integration


def held_model() -> ScriptedModel:
    model = ScriptedModel()
    model.release.clear()  # replies stay in progress until the test releases them
    return model


def test_one_user_cannot_hold_more_replies_than_the_cap_across_chats(sessions) -> None:
    model = held_model()
    service = chat_service(sessions, model, max_concurrent_turns_per_user=2)
    chats = [service.create_session(ALICE) for _ in range(3)]
    try:
        for chat in chats[:2]:
            service.submit_message(ALICE, chat.id, "busy", client_message_id=str(uuid.uuid4()))
        with pytest.raises(TurnLimitReached, match="2 replies being written"):
            service.submit_message(ALICE, chats[2].id, "one too many", client_message_id="third")
        assert service.messages(ALICE, chats[2].id) == []  # nothing stored, nothing sent
        assert len(model.calls) <= 2
        # Another user is not affected by Alice's replies.
        bob_chat = service.create_session(BOB)
        service.submit_message(BOB, bob_chat.id, "mine", client_message_id="bob-1")
    finally:
        model.release.set()
    for chat in chats[:2]:
        wait_for_reply(service, ALICE, chat.id)
    # Once a reply ends, a new message goes through.
    service.submit_message(ALICE, chats[2].id, "now it fits", client_message_id="third-again")
    wait_for_reply(service, ALICE, chats[2].id)


def test_the_cap_holds_across_two_app_instances_and_concurrent_submits(sessions) -> None:
    model = held_model()
    instances = [chat_service(sessions, model, max_concurrent_turns_per_user=2) for _ in range(2)]
    chats = [instances[0].create_session(ALICE) for _ in range(6)]
    accepted: list[uuid.UUID] = []
    refused: list[str] = []
    lock = threading.Lock()

    def submit(index: int) -> None:
        service = instances[index % 2]
        try:
            service.submit_message(ALICE, chats[index].id, "race", client_message_id=f"race-{index}")
            with lock:
                accepted.append(chats[index].id)
        except TurnLimitReached as error:
            with lock:
                refused.append(error.user_message)

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert (len(accepted), len(refused)) == (2, 4)
    finally:
        model.release.set()
    for chat_id in accepted:
        wait_for_reply(instances[0], ALICE, chat_id)


def test_turns_per_minute_are_capped_with_when_to_try_again(sessions) -> None:
    service = chat_service(sessions, max_turns_per_minute_per_user=3)
    chat = service.create_session(ALICE)
    for turn in range(3):
        service.submit_message(ALICE, chat.id, f"turn {turn}", client_message_id=f"m-{turn}")
        wait_for_reply(service, ALICE, chat.id)
    with pytest.raises(TurnLimitReached, match=r"Try again in \d+ s"):
        service.submit_message(ALICE, chat.id, "fourth", client_message_id="m-4")
    with pytest.raises(TurnLimitReached):
        service.retry(ALICE, chat.id)  # Retry counts too: it is not a way around the limit
    other = service.create_session(BOB)
    service.submit_message(BOB, other.id, "bob is fine", client_message_id="b-1")
    wait_for_reply(service, BOB, other.id)
