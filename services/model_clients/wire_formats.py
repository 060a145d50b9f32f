"""The three streaming formats a Databricks serving endpoint may speak, read into the port's events.

Which format an endpoint speaks follows from its task (`GET /api/2.0/serving-endpoints` lists it):

- `llm/v1/chat` (foundation and external models) and `agent/v1/chat` (MLflow ChatModel): OpenAI chat
  completions, `{"choices": [{"delta": {...}, "finish_reason": ...}]}` chunks. A reasoning model
  (Claude with thinking, GPT-OSS) sends `delta.content` as a list of `reasoning` and `text` parts.
- `agent/v2/chat` (MLflow ChatAgent): `{"delta": {"role", "content", "id", "tool_calls",
  "tool_call_id"}}` chunks with no `choices`; chunks of one message share its `id`.
- `agent/v1/responses` (MLflow ResponsesAgent): OpenAI Responses events, `response.output_text.delta`
  and `response.output_item.done` (items `message`, `function_call`, `function_call_output`,
  `reasoning`), with or without the `response.created`/`response.completed` lifecycle events.

Shapes as in Databricks' app templates (`e2e-chatbot-app`, `e2e-chatbot-app-next` in
databricks/app-templates) and MLflow's agent interfaces.

Every reader raises `ModelError(CUT_STREAM)` for a stream that ends without its end marker: no
finish reason (chat completions), no `response.completed` (Responses with lifecycle events), or an
item left unfinished (Responses without them). ChatAgent streams carry no end marker of their own;
a cut one is caught at the transport (an incomplete HTTP body), as for every format.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from services.model_clients.port import (
    ModelError,
    ModelErrorKind,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TraceReference,
    Usage,
)


class EndpointTask(StrEnum):
    """Serving endpoint tasks this app chats with."""

    CHAT = "llm/v1/chat"
    CHAT_MODEL = "agent/v1/chat"
    CHAT_AGENT = "agent/v2/chat"
    RESPONSES_AGENT = "agent/v1/responses"


class WireFormat(StrEnum):
    CHAT_COMPLETIONS = "chat_completions"
    CHAT_AGENT = "chat_agent"
    RESPONSES = "responses"


CHAT_TASKS = frozenset(task.value for task in EndpointTask)
# Agents record MLflow traces; asking a bare model for one is refused by some endpoints.
TRACED_TASKS = frozenset({EndpointTask.CHAT_MODEL, EndpointTask.CHAT_AGENT, EndpointTask.RESPONSES_AGENT})


def wire_format_for(task: str | None) -> WireFormat:
    """Unknown or unlisted tasks (external models, an endpoint the app may not list) get chat
    completions, which is what every chat endpoint spoke before agents had their own formats."""
    if task == EndpointTask.CHAT_AGENT:
        return WireFormat.CHAT_AGENT
    if task == EndpointTask.RESPONSES_AGENT:
        return WireFormat.RESPONSES
    return WireFormat.CHAT_COMPLETIONS


# Tool results can be whole documents; the page shows and stores this much of each.
MAX_TOOL_OUTPUT_CHARS = 20_000
PARAGRAPH_BREAK = "\n\n"


def _cut_at_the_limit(what_happened: str) -> ModelError:
    """A reply cut at a token limit, however the format says so: what happened, and what to do."""
    return ModelError(
        ModelErrorKind.LENGTH_LIMIT,
        f"{what_happened} Raise max tokens in the chat settings for longer replies.",
    )


class StreamGuard:
    """What every format enforces: the total time, and the chat's max tokens for endpoints that
    ignore the parameter (counted one token per streamed text chunk, as servers stream them)."""

    def __init__(self, *, target: str, total_seconds: float, max_tokens: int) -> None:
        self.target = target
        self._total_seconds = total_seconds
        self._deadline = time.monotonic() + total_seconds
        self._max_tokens = max_tokens
        self._text_chunks = 0

    def text(self, content: str) -> TextDelta:
        self._text_chunks += 1
        if self._text_chunks > self._max_tokens:
            raise _cut_at_the_limit(
                f"{self.target} kept writing past this chat's limit of {self._max_tokens:,} tokens, so the "
                "reply was cut there."
            )
        return TextDelta(content)

    def stopped_at_limit(self) -> ModelError:
        """The endpoint itself stopped at the chat's max tokens (finish reason `length`): the reply
        is cut, and the user is told so rather than shown it as finished."""
        return _cut_at_the_limit(
            f"{self.target} stopped at this chat's limit of {self._max_tokens:,} tokens, so the reply was "
            "cut there."
        )

    def check_time(self) -> None:
        if time.monotonic() > self._deadline:
            raise ModelError(
                ModelErrorKind.TIMEOUT,
                f"{self.target} took longer than {self._total_seconds:.0f} s in total; the reply so far is "
                "kept. Press Retry for a new one.",
            )

    def cut(self) -> ModelError:
        return ModelError(
            ModelErrorKind.CUT_STREAM,
            f"{self.target} stopped sending before the reply was finished (the stream was cut off). "
            "The text so far is kept; press Retry for a whole reply.",
        )

    def in_band_error(self) -> ModelError:
        return ModelError(
            ModelErrorKind.STREAM_ERROR,
            f"{self.target} reported an error partway through its reply. Your message is saved; press Retry.",
        )


def _field(value: Any, name: str) -> Any:
    """A field of a wire object, whether the openai client built a model for it or left a dict."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def _extras(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return getattr(value, "model_extra", None) or {}


def trace_reference(chunk: Any) -> TraceReference | None:
    """The request and trace ids a chunk carries: `databricks_output.databricks_request_id` and
    `databricks_output.trace.info.trace_id` (Model Serving, with `return_trace`), or a top-level
    `trace_id` (MLflow's agent server)."""
    extras = _extras(chunk)
    output = extras.get("databricks_output")
    request_id = trace_id = None
    if isinstance(output, dict):
        request_id = output.get("databricks_request_id")
        info = (output.get("trace") or {}).get("info") if isinstance(output.get("trace"), dict) else None
        if isinstance(info, dict):
            # MLflow 3 calls it trace_id; MLflow 2 traces named the same id request_id.
            trace_id = info.get("trace_id") or info.get("request_id")
    if trace_id is None and isinstance(extras.get("trace_id"), str):
        trace_id = extras["trace_id"]
    request_id = request_id if isinstance(request_id, str) else None
    trace_id = trace_id if isinstance(trace_id, str) else None
    if request_id is None and trace_id is None:
        return None
    return TraceReference(request_id=request_id, trace_id=trace_id)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _content_parts(content: Any) -> Iterator[tuple[str, str]]:
    """(`reasoning` or `text`, text) for a message content: a string, or a list of parts as reasoning
    models send them (`{"type": "reasoning", "summary": [{"type": "summary_text", "text": ...}]}`,
    `{"type": "text", "text": ...}`). Unknown parts are skipped, never shown as Python or JSON."""
    if isinstance(content, str):
        if content:
            yield "text", content
        return
    if not isinstance(content, list):
        if content is not None:
            raise ValueError("unexpected content")
        return
    for part in content:
        kind = _field(part, "type")
        if kind in ("text", "output_text"):
            text = _field(part, "text")
            if isinstance(text, str) and text:
                yield "text", text
        elif kind in ("reasoning", "thinking"):
            summary = _field(part, "summary")
            if isinstance(summary, list):
                for item in summary:
                    text = _field(item, "text")
                    if isinstance(text, str) and text:
                        yield "reasoning", text
            for key in ("text", "thinking", "content"):
                text = _field(part, key)
                if isinstance(text, str) and text:
                    yield "reasoning", text


def read_chat_completions(chunks: Iterable[Any], guard: StreamGuard) -> Iterator[StreamEvent]:
    usage: Usage | None = None
    finished = False
    for chunk in chunks:
        extras = _extras(chunk)
        if extras.get("error") or extras.get("error_code"):
            # Databricks and some servers report errors as a chunk with `error`/`error_code`.
            raise guard.in_band_error()
        reference = trace_reference(chunk)
        if reference is not None:
            yield reference
        choices = _field(chunk, "choices")
        if choices is None and reference is not None:
            continue  # a chunk carrying only the trace
        if not isinstance(choices, list):
            raise ValueError("unexpected chunk")
        for choice in choices:
            delta = _field(choice, "delta")
            if delta is not None:
                for kind, text in _content_parts(_field(delta, "content")):
                    yield guard.text(text) if kind == "text" else ReasoningDelta(text)
                # vLLM, DeepSeek and others stream reasoning in a field of its own.
                for key in ("reasoning_content", "reasoning"):
                    reasoning = _extras(delta).get(key)
                    if isinstance(reasoning, str) and reasoning:
                        yield ReasoningDelta(reasoning)
            finish_reason = _field(choice, "finish_reason")
            if finish_reason == "length":
                raise guard.stopped_at_limit()
            if finish_reason:
                finished = True
        chunk_usage = _field(chunk, "usage")
        if chunk_usage is not None:
            usage = Usage(_field(chunk_usage, "prompt_tokens"), _field(chunk_usage, "completion_tokens"))
        guard.check_time()
    if not finished:
        raise guard.cut()
    if usage is not None:
        yield usage


def read_chat_agent(chunks: Iterable[Any], guard: StreamGuard) -> Iterator[StreamEvent]:
    """ChatAgent chunks: assistant text accumulated by message id (a paragraph break between two
    messages), tool calls by call id (their arguments may come in pieces), tool results as `tool`
    messages naming their call."""
    last_text_message: object = None
    wrote_text = False
    calls: dict[str, list[str]] = {}  # call id -> [name, arguments so far]
    usage: Usage | None = None
    for chunk in chunks:
        if not isinstance(chunk, dict):
            raise ValueError("unexpected chunk")
        if chunk.get("error") or chunk.get("error_code"):
            raise guard.in_band_error()
        reference = trace_reference(chunk)
        if reference is not None:
            yield reference
        if isinstance(chunk.get("usage"), dict):
            usage = Usage(chunk["usage"].get("prompt_tokens"), chunk["usage"].get("completion_tokens"))
        delta = chunk.get("delta")
        if delta is None:
            if reference is None and usage is None:
                raise ValueError("a ChatAgent chunk without a delta")
            continue
        if not isinstance(delta, dict):
            raise ValueError("unexpected delta")
        if delta.get("role") == "tool":
            yield ToolCallFinished(
                call_id=str(delta.get("tool_call_id") or ""),
                output=_as_text(delta.get("content"))[:MAX_TOOL_OUTPUT_CHARS],
            )
            continue
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            call_id = str(call.get("id") or f"call-{len(calls) + 1}")
            known = calls.setdefault(call_id, ["", ""])
            known[0] = function.get("name") or known[0]
            known[1] += _as_text(function.get("arguments"))
            yield ToolCallStarted(call_id=call_id, name=known[0], arguments=known[1])
        message_id = delta.get("id")
        for kind, text in _content_parts(delta.get("content")):
            if kind == "reasoning":
                yield ReasoningDelta(text)
                continue
            if wrote_text and message_id != last_text_message:
                yield TextDelta(PARAGRAPH_BREAK)
            last_text_message = message_id
            wrote_text = True
            yield guard.text(text)
        guard.check_time()
    if usage is not None:
        yield usage


def read_responses(events: Iterable[Any], guard: StreamGuard) -> Iterator[StreamEvent]:
    """Responses events. Text streams as `response.output_text.delta`; an item that streamed no
    deltas (some agents send whole items) is shown from its `response.output_item.done`."""
    lifecycle = completed = False
    unfinished_items: set[str] = set()
    items_with_text: set[str] = set()
    items_with_reasoning: set[str] = set()
    last_text_item: object = None
    wrote_text = False
    items_done = 0
    usage: Usage | None = None

    def text_of(item_id: object, text: str) -> Iterator[StreamEvent]:
        nonlocal last_text_item, wrote_text
        if wrote_text and item_id != last_text_item:
            yield TextDelta(PARAGRAPH_BREAK)
        last_text_item, wrote_text = item_id, True
        yield guard.text(text)

    for event in events:
        reference = trace_reference(event)
        if reference is not None:
            yield reference
        kind = _field(event, "type")
        if not isinstance(kind, str):
            raise ValueError("an event without a type")
        if kind in ("response.created", "response.in_progress"):
            lifecycle = True
        elif kind == "response.output_text.delta":
            item_id = _field(event, "item_id")
            delta = _field(event, "delta")
            if isinstance(delta, str) and delta:
                unfinished_items.add(str(item_id))
                items_with_text.add(str(item_id))
                yield from text_of(item_id, delta)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = _field(event, "delta")
            if isinstance(delta, str) and delta:
                items_with_reasoning.add(str(_field(event, "item_id")))
                yield ReasoningDelta(delta)
        elif kind == "response.output_item.added":
            item = _field(event, "item")
            if _field(item, "type") == "function_call":
                yield ToolCallStarted(
                    call_id=str(_field(item, "call_id") or _field(item, "id") or ""),
                    name=str(_field(item, "name") or ""),
                    arguments=_as_text(_field(item, "arguments")),
                )
        elif kind == "response.output_item.done":
            items_done += 1
            item = _field(event, "item")
            item_type = _field(item, "type")
            item_id = str(_field(item, "id"))
            unfinished_items.discard(item_id)
            if item_type == "message":
                if item_id not in items_with_text:
                    for part_kind, text in _content_parts(_field(item, "content")):
                        if part_kind == "text":
                            yield from text_of(item_id, text)
            elif item_type == "function_call":
                yield ToolCallStarted(
                    call_id=str(_field(item, "call_id") or _field(item, "id") or ""),
                    name=str(_field(item, "name") or ""),
                    arguments=_as_text(_field(item, "arguments")),
                )
            elif item_type == "function_call_output":
                yield ToolCallFinished(
                    call_id=str(_field(item, "call_id") or ""),
                    output=_as_text(_field(item, "output"))[:MAX_TOOL_OUTPUT_CHARS],
                )
            elif item_type == "reasoning" and item_id not in items_with_reasoning:
                for summary in _field(item, "summary") or []:
                    text = _field(summary, "text")
                    if isinstance(text, str) and text:
                        yield ReasoningDelta(text)
        elif kind == "response.completed":
            completed = True
            response_usage = _field(_field(event, "response"), "usage")
            if response_usage is not None:
                usage = Usage(_field(response_usage, "input_tokens"), _field(response_usage, "output_tokens"))
        elif kind == "response.incomplete":
            raise _cut_at_the_limit(f"{guard.target} stopped at its output limit before finishing.")
        elif kind in ("response.failed", "error"):
            raise guard.in_band_error()
        guard.check_time()
    finished = completed if lifecycle else (items_done > 0 and not unfinished_items)
    if not finished:
        raise guard.cut()
    if usage is not None:
        yield usage
