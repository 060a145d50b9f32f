"""A reply's details (tool steps, reasoning, sources, trace ids) survive export and import, and
whatever a file or a model puts in them is cleaned and bounded before it is stored."""

from __future__ import annotations

import json
import uuid

import pytest

from services.application import build_application
from services.chat_files import InvalidImport
from services.config import Settings
from services.reply_details import MAX_STEPS, ReplyDetails, StepState
from tests.fakes.serving import TOOL_NAME
from tests.integration.helpers import ALICE, use_fake_workspace, wait_for_reply

pytestmark = pytest.mark.integration


@pytest.fixture
def agent_app(fake_serving, app_env, clean_db):
    use_fake_workspace(app_env, fake_serving, "agent-responses")
    app = build_application(Settings(_env_file=None))
    yield app
    app.close()


def test_tool_steps_survive_export_and_import_without_their_trace_ids(agent_app) -> None:
    session = agent_app.chat.create_session(ALICE)
    agent_app.chat.submit_message(ALICE, session.id, "weather in Paris", client_message_id=str(uuid.uuid4()))
    wait_for_reply(agent_app.chat, ALICE, session.id)
    exported = json.loads(agent_app.files.export_json(ALICE, session.id))
    details = exported["messages"][-1]["details"]
    assert details["steps"][0]["name"] == TOOL_NAME
    assert details["trace_id"].startswith("tr-")
    assert f"Tool `{TOOL_NAME}`" in agent_app.files.export_markdown(ALICE, session.id)

    imported_id = agent_app.files.import_json(ALICE, json.dumps(exported))
    reply = agent_app.chat.messages(ALICE, imported_id)[-1]
    assert reply.details.steps[0].name == TOOL_NAME
    assert reply.details.steps[0].state is StepState.DONE
    # A file's trace ids would let it attach this user's ratings to any trace: they are dropped.
    assert reply.details.trace_id is None
    assert reply.details.request_id is None


def test_malformed_details_in_a_file_are_refused_and_nothing_is_imported(agent_app) -> None:
    document = {
        "format": "lakebase-chat.session",
        "version": 1,
        "session": {"title": "t"},
        "messages": [
            {"seq": 1, "role": "user", "content": "q", "status": "complete"},
            {"seq": 2, "role": "assistant", "content": "a", "status": "complete", "details": {"steps": "x"}},
        ],
    }
    before = agent_app.files.count_exportable(ALICE)
    with pytest.raises(InvalidImport) as raised:
        agent_app.files.import_json(ALICE, json.dumps(document))
    assert "messages[1].details" in raised.value.user_message
    assert agent_app.files.count_exportable(ALICE) == before


def test_details_are_cleaned_and_bounded() -> None:
    details = ReplyDetails.from_json(
        {
            "steps": [{"call_id": "c\x00", "name": "n\ud800", "arguments": "{}", "state": "done"}]
            * (MAX_STEPS + 5),
            "reasoning": "r\x00r",
        }
    )
    assert len(details.steps) == MAX_STEPS
    assert "\x00" not in details.steps[0].call_id
    assert "\ud800" not in details.steps[0].name
    assert "\x00" not in details.reasoning
    assert ReplyDetails.from_json(details.to_json()) == details
    with pytest.raises(ValueError, match="state"):
        ReplyDetails.from_json({"steps": [{"state": "exploded"}]})


def test_a_call_that_never_got_its_result_is_marked_so_when_the_reply_ends() -> None:
    details = ReplyDetails().with_call("c1", "search", '{"q": 1}').with_call("c2", "fetch", "{}")
    details = details.with_result("c1", "found").finished()
    assert [(s.name, s.state) for s in details.steps] == [
        ("search", StepState.DONE),
        ("fetch", StepState.NO_RESULT),
    ]
