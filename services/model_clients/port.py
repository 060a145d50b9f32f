"""The model-client port: given messages and parameters, yield what the model produces as it comes.

A reply is text, and for agents and reasoning models also the steps that led to it: reasoning,
tool calls and their results. Every wire format (chat completions, ChatAgent, ResponsesAgent) is
read into these same events, so the turn, the buffer and the page never see a wire format.

Every failure is raised as `ModelError`, whose `user_message` a person can act on and which never
carries the provider's own message text (it may echo the prompt) or a token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.errors import UserError


@dataclass(frozen=True)
class PromptMessage:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class GenerationParams:
    model: str
    temperature: float
    max_tokens: int
    # The serving endpoint's task (`llm/v1/chat`, `agent/v2/chat`...), which decides the wire
    # format; None when unknown, which means chat completions.
    task: str | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """Text the model thinks aloud before answering (Claude with thinking, GPT-OSS): shown apart."""

    text: str


@dataclass(frozen=True)
class ToolCallStarted:
    """An agent called a tool. Arguments are the model's JSON text, shown as is."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolCallFinished:
    call_id: str
    output: str


@dataclass(frozen=True)
class TraceReference:
    """Where the workspace recorded this reply: the serving request id and the MLflow trace id."""

    request_id: str | None
    trace_id: str | None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None


StreamEvent = TextDelta | ReasoningDelta | ToolCallStarted | ToolCallFinished | TraceReference | Usage


class ModelErrorKind(StrEnum):
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    CONTEXT_TOO_LONG = "context_too_long"
    BAD_REQUEST = "bad_request"
    MALFORMED_STREAM = "malformed_stream"
    STREAM_ERROR = "stream_error"
    CONFIGURATION = "configuration"
    CUT_STREAM = "cut_stream"  # the stream ended before the model said it had finished
    LENGTH_LIMIT = "length_limit"  # the model wrote past the chat's max tokens; cut there


class ModelError(UserError):
    """A model call failed in a way the user can be told about."""

    def __init__(
        self, kind: ModelErrorKind, user_message: str, *, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(user_message)
        self.kind = kind
        self.retry_after_seconds = retry_after_seconds


class ModelClient(Protocol):
    """One way of talking to a model. Implementations make no network call until `stream_chat`."""

    @property
    def label(self) -> str:
        """How the UI names this client (for example `Databricks serving endpoint`)."""
        ...

    @property
    def is_demo(self) -> bool: ...

    def stream_chat(
        self, messages: list[PromptMessage], params: GenerationParams, *, user_token: str | None = None
    ) -> Iterator[StreamEvent]:
        """Yield events as they arrive, then at most one `Usage`. Raise `ModelError` on failure.

        `user_token`, when given, is the signed-in user's own Databricks token (MODEL_CALLS_AS_USER):
        a Databricks client sends it instead of the app's; clients of other servers ignore it.

        Closing the iterator early (Stop) must release the connection.
        """
        ...
