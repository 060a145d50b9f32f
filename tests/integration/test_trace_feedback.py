"""Ratings of traced agent replies become MLflow assessments on the reply's trace (issue 10, part 4),
sent in the background over real HTTP to the fake workspace, retried when it refuses."""

from __future__ import annotations

import time
import uuid

import pytest

from services.application import build_application
from services.config import Settings
from services.trace_feedback import TraceFeedbackSender, is_trace_id
from services.workspace import workspace_client
from tests.integration.helpers import ALICE, use_fake_workspace, wait_for_reply

pytestmark = pytest.mark.integration


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)


@pytest.fixture
def agent_app(fake_serving, app_env, clean_db):
    use_fake_workspace(app_env, fake_serving, "agent-chat")
    app_env.setenv("DATABRICKS_TIMEOUT_SECONDS", "1")  # the SDK's own retries of a 503 end sooner
    app = build_application(Settings(_env_file=None))
    fake_serving.assessments.clear()
    yield app
    app.close()


def traced_reply(app) -> tuple[int, str]:
    session = app.chat.create_session(ALICE)
    app.chat.submit_message(ALICE, session.id, "weather in Paris", client_message_id=str(uuid.uuid4()))
    wait_for_reply(app.chat, ALICE, session.id)
    reply = app.chat.messages(ALICE, session.id)[-1]
    assert reply.details.trace_id is not None
    return reply.id, reply.details.trace_id


def test_a_rating_and_its_comment_become_an_assessment_and_a_change_updates_it(
    agent_app, fake_serving
) -> None:
    reply_id, trace_id = traced_reply(agent_app)
    agent_app.feedback.rate(ALICE, reply_id, 1, "Spot on")  # returns at once; the sender does the rest
    wait_until(lambda: len(fake_serving.assessments) == 1)
    method, trace, body = fake_serving.assessments[0]
    assert (method, trace) == ("POST", trace_id)
    assert body["assessment"]["assessment_name"] == "user_feedback"
    assert body["assessment"]["feedback"] == {"value": True}
    assert body["assessment"]["rationale"] == "Spot on"
    assert body["assessment"]["source"] == {"source_type": "HUMAN", "source_id": ALICE.email}

    agent_app.feedback.rate(ALICE, reply_id, -1, None)
    wait_until(lambda: len(fake_serving.assessments) == 2)
    method, trace, body = fake_serving.assessments[1]
    assert (method, trace) == ("PATCH", trace_id)  # the same assessment, changed
    assert body["assessment"]["feedback"] == {"value": False}
    assert body["update_mask"]


def test_a_refused_send_is_retried_later_and_the_rating_is_never_lost(
    agent_app, fake_serving, clean_db
) -> None:
    reply_id, _ = traced_reply(agent_app)
    agent_app.trace_feedback.stop()  # drive the sender by hand, with a clock of our own
    now = [1000.0]
    sender = TraceFeedbackSender(
        transactions=agent_app.transactions,
        workspace_client=lambda: workspace_client(agent_app.settings),
        clock=lambda: now[0],
    )
    fake_serving.failing_assessment_calls = 100  # the workspace is down: every call is a 503
    agent_app.feedback.rate(ALICE, reply_id, 1, None)
    assert sender.send_pending() == 0
    fake_serving.failing_assessment_calls = 0  # back up
    assert sender.send_pending() == 0  # still backing off
    now[0] += 600
    assert sender.send_pending() == 1
    assert [(method, trace[:3]) for method, trace, _ in fake_serving.assessments] == [("POST", "tr-")]
    assert sender.send_pending() == 0  # sent once, not again


def test_replies_without_a_trace_send_nothing(fake_serving, app_env, clean_db) -> None:
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
    app_env.setenv("LLM_ENDPOINT", "chat")  # a bare model: no trace asked for, none returned
    app_env.setenv("MODEL_TITLES", "false")
    app = build_application(Settings(_env_file=None))
    fake_serving.requests.clear()
    try:
        session = app.chat.create_session(ALICE)
        app.chat.submit_message(ALICE, session.id, "hello", client_message_id=str(uuid.uuid4()))
        wait_for_reply(app.chat, ALICE, session.id)
        reply = app.chat.messages(ALICE, session.id)[-1]
        assert reply.details.trace_id is None
        app.feedback.rate(ALICE, reply.id, 1, None)
        assert app.trace_feedback.send_pending() == 0
    finally:
        app.close()
    assert not [r for r in fake_serving.requests if "/mlflow/" in r.path]


@pytest.mark.parametrize("value", ["tr-abc123", "a-1", "tr:1.2_x"])
def test_trace_ids_of_the_shapes_mlflow_uses_are_accepted(value) -> None:
    assert is_trace_id(value)


@pytest.mark.parametrize("value", ["../../api/2.0/secrets", "tr/1", "", "tr 1", "x" * 201, "?a=b"])
def test_anything_else_never_reaches_a_url(value) -> None:
    assert not is_trace_id(value)
