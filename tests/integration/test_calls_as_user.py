"""MODEL_CALLS_AS_USER (issue 10, part 5): model calls carry the signed-in user's own token, so the
workspace applies that user's permissions; without the token a turn fails plainly, never falling
back to the app's identity."""

from __future__ import annotations

import pytest

from services.replies import NO_USER_TOKEN_MESSAGE
from services.views import User
from tests.integration.helpers import one_turn, use_fake_workspace

pytestmark = pytest.mark.integration


@pytest.fixture
def workspace(fake_serving, app_env, clean_db):
    use_fake_workspace(app_env, fake_serving)
    return app_env


def invocation_tokens(fake_serving) -> list[str | None]:
    return [r.authorization for r in fake_serving.requests if r.path.endswith("/invocations")]


def test_with_the_setting_on_the_model_is_called_with_the_users_token(workspace, fake_serving) -> None:
    workspace.setenv("MODEL_CALLS_AS_USER", "true")
    fake_serving.issued_tokens.append("alice-own-token")  # the workspace knows Alice's token
    reply = one_turn(User("alice@example.com", access_token="alice-own-token"))
    assert reply.status == "complete"
    assert invocation_tokens(fake_serving) == ["Bearer alice-own-token"]


def test_with_the_setting_on_and_no_token_the_turn_fails_plainly(workspace, fake_serving) -> None:
    workspace.setenv("MODEL_CALLS_AS_USER", "true")
    reply = one_turn(User("alice@example.com"))
    assert (reply.status, reply.error_message) == ("error", NO_USER_TOKEN_MESSAGE)
    assert invocation_tokens(fake_serving) == []  # never the app's own token instead


def test_with_the_setting_off_the_apps_identity_is_used(workspace, fake_serving) -> None:
    reply = one_turn(User("alice@example.com", access_token="alice-own-token"))
    assert reply.status == "complete"
    assert invocation_tokens(fake_serving) == [f"Bearer {fake_serving.token}"]
