"""MODEL_CALLS_AS_USER (issue 10, part 5): model calls carry the signed-in user's own token, so the
workspace applies that user's permissions; without the token a turn fails plainly, never falling
back to the app's identity."""

from __future__ import annotations

import uuid

import pytest

from services.application import build_application
from services.config import Settings
from services.replies import NO_USER_TOKEN_MESSAGE
from services.views import User
from tests.integration.helpers import wait_for_reply

pytestmark = pytest.mark.integration


def turn_as(user: User) -> tuple:
    app = build_application(Settings(_env_file=None))
    try:
        session = app.chat.create_session(user)
        app.chat.submit_message(user, session.id, "hello", client_message_id=str(uuid.uuid4()))
        wait_for_reply(app.chat, user, session.id)
        return app.chat.messages(user, session.id)[-1]
    finally:
        app.close()


@pytest.fixture
def workspace(fake_serving, app_env, clean_db):
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
    app_env.setenv("LLM_ENDPOINT", "chat")
    app_env.setenv("MODEL_TITLES", "false")
    fake_serving.requests.clear()
    return app_env


def invocation_tokens(fake_serving) -> list[str | None]:
    return [r.authorization for r in fake_serving.requests if r.path.endswith("/invocations")]


def test_with_the_setting_on_the_model_is_called_with_the_users_token(workspace, fake_serving) -> None:
    workspace.setenv("MODEL_CALLS_AS_USER", "true")
    fake_serving.issued_tokens.append("alice-own-token")  # the workspace knows Alice's token
    reply = turn_as(User("alice@example.com", access_token="alice-own-token"))
    assert reply.status == "complete"
    assert invocation_tokens(fake_serving) == ["Bearer alice-own-token"]


def test_with_the_setting_on_and_no_token_the_turn_fails_plainly(workspace, fake_serving) -> None:
    workspace.setenv("MODEL_CALLS_AS_USER", "true")
    reply = turn_as(User("alice@example.com"))
    assert (reply.status, reply.error_message) == ("error", NO_USER_TOKEN_MESSAGE)
    assert invocation_tokens(fake_serving) == []  # never the app's own token instead


def test_with_the_setting_off_the_apps_identity_is_used(workspace, fake_serving) -> None:
    reply = turn_as(User("alice@example.com", access_token="alice-own-token"))
    assert reply.status == "complete"
    assert invocation_tokens(fake_serving) == [f"Bearer {fake_serving.token}"]
