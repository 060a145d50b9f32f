"""The Databricks and OpenAI-compatible clients over real HTTP, against the fake serving endpoint."""

import logging

import pytest

from services.model_clients.openai_compatible import (
    DatabricksServingClient,
    DatabricksTokenProvider,
    OpenAICompatibleClient,
    Timeouts,
)
from services.model_clients.port import (
    GenerationParams,
    ModelError,
    ModelErrorKind,
    PromptMessage,
    TextDelta,
    Usage,
)

PROMPT = [PromptMessage("system", "Be brief."), PromptMessage("user", "secret prompt words")]
TIMEOUTS = Timeouts(connect=2, first_token=1, total=10)


def databricks_client(fake_serving, token: str | None = None) -> DatabricksServingClient:
    provider = DatabricksTokenProvider(
        host=fake_serving.url, token=token or fake_serving.token, timeout_seconds=2
    )
    return DatabricksServingClient(host=fake_serving.url, token_provider=provider, timeouts=TIMEOUTS)


def collect(client, endpoint: str) -> tuple[str, list[Usage]]:
    events = list(client.stream_chat(PROMPT, GenerationParams(endpoint, 0.3, 64)))
    return "".join(e.text for e in events if isinstance(e, TextDelta)), [
        e for e in events if isinstance(e, Usage)
    ]


def test_databricks_client_streams_from_the_invocations_route_with_the_bearer_token(fake_serving) -> None:
    fake_serving.requests.clear()
    text, usage = collect(databricks_client(fake_serving), "chat")
    assert text == "Served reply to: secret prompt words"
    assert usage == [Usage(prompt_tokens=11, completion_tokens=6)]
    call = [r for r in fake_serving.requests if r.method == "POST"][-1]
    assert call.path == "/serving-endpoints/chat/invocations"
    assert call.authorization == f"Bearer {fake_serving.token}"
    assert call.body["stream"] is True
    assert call.body["stream_options"] == {"include_usage": True}
    assert call.body["temperature"] == 0.3
    assert call.body["max_tokens"] == 64
    assert call.body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_openai_compatible_client_streams_from_chat_completions(fake_serving) -> None:
    client = OpenAICompatibleClient(
        base_url=f"{fake_serving.url}/serving-endpoints", api_key=fake_serving.token, timeouts=TIMEOUTS
    )
    fake_serving.requests.clear()
    text, usage = collect(client, "chat")
    assert text == "Served reply to: secret prompt words"
    assert usage[0].completion_tokens == 6
    assert fake_serving.requests[-1].path == "/serving-endpoints/chat/completions"
    assert fake_serving.requests[-1].body["model"] == "chat"


@pytest.mark.parametrize(
    ("endpoint", "kind", "words"),
    [
        ("status-403", ModelErrorKind.PERMISSION, "CAN QUERY"),
        ("no-such-endpoint", ModelErrorKind.NOT_FOUND, "does not exist (404)"),
        ("status-429", ModelErrorKind.RATE_LIMITED, "Try again in 7 s"),
        ("status-500", ModelErrorKind.SERVER, "internal error (500)"),
        ("status-503", ModelErrorKind.SERVER, "internal error (503)"),
        ("context-too-long", ModelErrorKind.CONTEXT_TOO_LONG, "too long for this model's context window"),
        ("status-422", ModelErrorKind.BAD_REQUEST, "rejected the request (422)"),
        ("malformed", ModelErrorKind.MALFORMED_STREAM, "could not read"),
        ("error-event", ModelErrorKind.STREAM_ERROR, "partway through its reply"),
        ("slow-first-token", ModelErrorKind.TIMEOUT, "did not answer in time"),
    ],
)
def test_every_failure_becomes_a_message_a_person_can_act_on(
    fake_serving, caplog: pytest.LogCaptureFixture, endpoint: str, kind: ModelErrorKind, words: str
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ModelError) as caught:
        collect(databricks_client(fake_serving), endpoint)
    assert caught.value.kind == kind
    assert words in caught.value.user_message
    if kind is ModelErrorKind.RATE_LIMITED:
        assert caught.value.retry_after_seconds == 7
    # Neither the provider's own text, the prompt nor the token reach the message or the log.
    for secret in ("secret prompt words", fake_serving.token, "upstream failure", "status 5"):
        assert secret not in caught.value.user_message
        assert secret not in caplog.text


def test_a_wrong_token_is_an_authentication_error(fake_serving) -> None:
    with pytest.raises(ModelError) as caught:
        collect(databricks_client(fake_serving, token="dapi-wrong"), "chat")
    assert caught.value.kind == ModelErrorKind.AUTHENTICATION
    assert "(401)" in caught.value.user_message


def test_an_unreachable_workspace_fails_fast_with_a_clear_message() -> None:
    host = "http://127.0.0.1:9"  # nothing listens on the discard port
    provider = DatabricksTokenProvider(host=host, token="dapi-x", timeout_seconds=1)
    client = DatabricksServingClient(host=host, token_provider=provider, timeouts=TIMEOUTS)
    with pytest.raises(ModelError) as caught:
        collect(client, "chat")
    assert caught.value.kind == ModelErrorKind.UNREACHABLE
    assert "not reachable" in caught.value.user_message


# -- streams that end badly (issue 10, part 3) --------------------------------------------------------


def events_until_the_error(fake_serving, endpoint: str, max_tokens: int) -> tuple[list, ModelError]:
    """What a stream yields before it fails, and the failure (a stream that does not fail fails the test)."""
    events = []
    with pytest.raises(ModelError) as raised:
        events.extend(
            databricks_client(fake_serving).stream_chat(PROMPT, GenerationParams(endpoint, 0.3, max_tokens))
        )
    return events, raised.value


def test_a_stream_cut_before_its_finish_reason_is_an_error_not_a_complete_reply(fake_serving) -> None:
    events, error = events_until_the_error(fake_serving, "cut-stream", 64)
    assert error.kind is ModelErrorKind.CUT_STREAM
    assert "cut off" in error.user_message
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Served reply"  # kept


def test_a_model_that_ignores_max_tokens_is_cut_at_the_limit(fake_serving) -> None:
    events, error = events_until_the_error(fake_serving, "runaway", 20)
    assert error.kind is ModelErrorKind.LENGTH_LIMIT
    assert "20 tokens" in error.user_message
    assert len([event for event in events if isinstance(event, TextDelta)]) == 20


def test_an_empty_reply_streams_no_text_and_ends_normally(fake_serving) -> None:
    text, _ = collect(databricks_client(fake_serving), "empty")
    assert text == ""


@pytest.mark.parametrize("kind", ["databricks", "openai-compatible"])
def test_a_400_naming_stream_options_is_retried_once_without_it_and_remembered(fake_serving, kind) -> None:
    client = (
        databricks_client(fake_serving)
        if kind == "databricks"
        else OpenAICompatibleClient(
            base_url=f"{fake_serving.url}/serving-endpoints", api_key=fake_serving.token, timeouts=TIMEOUTS
        )
    )
    fake_serving.requests.clear()
    for _ in range(2):
        text, usage = collect(client, "rejects-stream-options")
        # Without stream_options the endpoint sends no token counts: the reply is whole all the same.
        assert text == "Served reply to: secret prompt words"
        assert usage == []
    sent = [("stream_options" in (r.body or {})) for r in fake_serving.requests if r.method == "POST"]
    assert sent == [True, False, False]  # refused once, then never asked again


def test_a_reply_the_endpoint_stops_at_max_tokens_is_reported_as_cut(fake_serving) -> None:
    # Model Serving honours max_tokens and ends the stream with finish reason "length": the reply
    # was cut, and must not pass for a finished one.
    events, error = events_until_the_error(fake_serving, "chat", 2)
    assert error.kind is ModelErrorKind.LENGTH_LIMIT
    assert "stopped at this chat's limit of 2 tokens" in error.user_message
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Served reply"  # kept
