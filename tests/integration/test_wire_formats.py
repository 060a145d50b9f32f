"""Each wire format a Databricks serving endpoint speaks, over real HTTP against the fake endpoint:
what the client sends (per the endpoint's task) and the events it reads back."""

import pytest

from services.model_clients.openai_compatible import (
    DatabricksServingClient,
    DatabricksTokenProvider,
    Timeouts,
)
from services.model_clients.port import (
    GenerationParams,
    ModelError,
    ModelErrorKind,
    PromptMessage,
    ReasoningDelta,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TraceReference,
)
from tests.fakes.serving import TOOL_NAME, TOOL_RESULT

PROMPT = [PromptMessage("system", "Be brief."), PromptMessage("user", "weather in Paris")]
TIMEOUTS = Timeouts(connect=2, first_token=2, total=10)


def client_for(fake_serving) -> DatabricksServingClient:
    provider = DatabricksTokenProvider(host=fake_serving.url, token=fake_serving.token, timeout_seconds=2)
    return DatabricksServingClient(host=fake_serving.url, token_provider=provider, timeouts=TIMEOUTS)


def stream(fake_serving, endpoint: str, task: str | None) -> list:
    fake_serving.requests.clear()
    return list(client_for(fake_serving).stream_chat(PROMPT, GenerationParams(endpoint, 0.3, 64, task=task)))


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def sent_body(fake_serving) -> dict:
    return [r for r in fake_serving.requests if r.method == "POST"][-1].body


def test_a_chat_agent_streams_a_tool_call_its_result_and_the_answer(fake_serving) -> None:
    events = stream(fake_serving, "agent-chat", "agent/v2/chat")
    body = sent_body(fake_serving)
    # ChatAgent requests: messages and stream, the trace asked for; no chat-completions parameters.
    assert body == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "weather in Paris"},
        ],
        "stream": True,
        "databricks_options": {"return_trace": True},
    }
    calls = [e for e in events if isinstance(e, ToolCallStarted)]
    assert calls[-1] == ToolCallStarted("call-1", TOOL_NAME, '{"city": "Paris"}')  # pieces joined
    assert [e for e in events if isinstance(e, ToolCallFinished)] == [ToolCallFinished("call-1", TOOL_RESULT)]
    assert text_of(events) == "Served reply to: weather in Paris"
    traces = [e for e in events if isinstance(e, TraceReference)]
    assert traces[-1].trace_id is not None
    assert traces[-1].trace_id.startswith("tr-")
    assert traces[-1].request_id == traces[0].request_id  # the header and the trace name one request


def test_a_responses_agent_streams_a_tool_call_its_result_and_the_answer(fake_serving) -> None:
    events = stream(fake_serving, "agent-responses", "agent/v1/responses")
    body = sent_body(fake_serving)
    assert body["input"][1] == {"role": "user", "content": "weather in Paris"}
    assert body["stream"] is True
    assert "messages" not in body
    assert "temperature" not in body
    assert events.index(ToolCallStarted("call-1", TOOL_NAME, '{"city": "Paris"}')) < events.index(
        ToolCallFinished("call-1", TOOL_RESULT)
    )
    # The message's deltas are the reply; its closing item repeats the text and is not added twice.
    assert text_of(events) == "Served reply to: weather in Paris"
    assert any(isinstance(e, TraceReference) and e.trace_id for e in events)


def test_a_responses_stream_whose_item_never_finishes_is_cut(fake_serving) -> None:
    fake_serving.requests.clear()
    events: list = []
    with pytest.raises(ModelError) as raised:
        events.extend(
            client_for(fake_serving).stream_chat(
                PROMPT, GenerationParams("agent-responses-cut", 0.3, 64, task="agent/v1/responses")
            )
        )
    assert raised.value.kind is ModelErrorKind.CUT_STREAM
    assert text_of(events) == "Served reply"


def test_a_reasoning_model_sends_its_reasoning_apart_from_the_reply(fake_serving) -> None:
    events = stream(fake_serving, "reasoning", "llm/v1/chat")
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == "Let me think. The user wants a reply."
    assert text_of(events) == "Served reply to: weather in Paris"
    assert "databricks_options" not in sent_body(fake_serving)  # bare models are not asked for traces


def test_an_unknown_task_speaks_chat_completions(fake_serving) -> None:
    events = stream(fake_serving, "chat", None)
    assert text_of(events) == "Served reply to: weather in Paris"
    assert "messages" in sent_body(fake_serving)
    assert "stream_options" in sent_body(fake_serving)


def test_an_agent_sent_chat_completion_parameters_would_be_refused(fake_serving) -> None:
    """The fake is as strict as the platform: the ChatAgent request shape is the only one it takes."""
    with pytest.raises(ModelError) as raised:
        stream(fake_serving, "agent-chat", None)  # wrong task: temperature, max_tokens, stream_options
    assert raised.value.kind is ModelErrorKind.BAD_REQUEST
