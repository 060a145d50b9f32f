"""Streaming chat over the OpenAI chat-completions protocol, for Databricks and any compatible server.

Both clients share the stream reader and the error mapping here. The `openai` package does the
requests and SSE decoding over our HTTP transport (http_transport.py); we add timeouts, in-band error
parsing and messages a person can act on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import openai
from openai import OpenAI, Stream
from openai.types.responses import ResponseStreamEvent

from services.endpoint_names import is_serving_endpoint_name
from services.model_clients.http_transport import http_client_for
from services.model_clients.port import (
    GenerationParams,
    ModelError,
    ModelErrorKind,
    PromptMessage,
    StreamEvent,
    TraceReference,
)
from services.model_clients.wire_formats import (
    TRACED_TASKS,
    StreamGuard,
    WireFormat,
    read_chat_agent,
    read_chat_completions,
    read_responses,
    wire_format_for,
)

if TYPE_CHECKING:  # for the type only: the SDK is loaded on first use, never at start-up
    from databricks.sdk.core import Config

logger = logging.getLogger(__name__)

_CONTEXT_TOO_LONG_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "exceeds the maximum",
)


class Timeouts:
    def __init__(self, *, connect: float, first_token: float, total: float) -> None:
        self.connect = connect
        self.first_token = first_token
        self.total = total

    def for_http(self) -> openai.Timeout:
        # The read timeout bounds the wait for the first token and every gap after it.
        return openai.Timeout(self.total, connect=self.connect, read=self.first_token)


def _retry_after_seconds(response: Any) -> float | None:
    try:
        value = response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _looks_like_context_too_long(error: openai.APIStatusError) -> bool:
    body = error.body
    code = ""
    if isinstance(body, dict):
        inner: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
        code = str(inner.get("code") or inner.get("error_code") or "")
    text = f"{code} {error.message}".lower()
    return any(hint in text for hint in _CONTEXT_TOO_LONG_HINTS)


def map_openai_error(error: Exception, *, target: str, timeouts: Timeouts) -> ModelError:
    """Turn any failure of the openai client into a ModelError a person can act on.

    `target` names what was called (for example "the Databricks serving endpoint `x`"). The
    provider's own message is not shown or logged: it can echo the user's prompt.
    """
    saved = "Your message is saved; press Retry"
    if isinstance(error, ModelError):
        return error
    if isinstance(error, openai.APITimeoutError):
        return ModelError(
            ModelErrorKind.TIMEOUT,
            f"{target} did not answer in time (no reply within {timeouts.first_token:.0f} s). {saved}.",
        )
    if isinstance(error, openai.APIConnectionError):
        return ModelError(
            ModelErrorKind.UNREACHABLE,
            f"{target} is not reachable (connection failed). Check the host setting and the network. "
            f"{saved}.",
        )
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status == 401:
            return ModelError(
                ModelErrorKind.AUTHENTICATION,
                f"{target} refused the credentials (401). Check the token or the app's service principal, "
                f"then press Retry.",
            )
        if status == 403:
            return ModelError(
                ModelErrorKind.PERMISSION,
                f"You do not have permission to query {target} (403). Ask a workspace admin for "
                f"CAN QUERY on it, or choose another endpoint.",
            )
        if status == 404:
            return ModelError(
                ModelErrorKind.NOT_FOUND,
                f"{target} does not exist (404). Choose another model in the chat settings or fix "
                f"LLM_ENDPOINT.",
            )
        if status == 429:
            retry_after = _retry_after_seconds(error.response)
            wait = f"Try again in {retry_after:.0f} s" if retry_after is not None else "Try again shortly"
            return ModelError(
                ModelErrorKind.RATE_LIMITED,
                f"{target} is rate limiting requests (429). {wait}; your message is saved.",
                retry_after_seconds=retry_after,
            )
        if status == 400 and _looks_like_context_too_long(error):
            return ModelError(
                ModelErrorKind.CONTEXT_TOO_LONG,
                "The conversation is too long for this model's context window (400). Start a new chat, "
                "or lower max tokens in the chat settings, then press Retry.",
            )
        if status >= 500:
            return ModelError(
                ModelErrorKind.SERVER,
                f"{target} had an internal error ({status}). {saved}.",
            )
        return ModelError(
            ModelErrorKind.BAD_REQUEST,
            f"{target} rejected the request ({status}). Check the chat settings (temperature, max tokens), "
            f"then press Retry.",
        )
    if isinstance(error, openai.APIError):
        # Raised by the SSE reader for an error event inside a 200 stream.
        return ModelError(
            ModelErrorKind.STREAM_ERROR,
            f"{target} reported an error partway through its reply. {saved}.",
        )
    if isinstance(error, (json.JSONDecodeError, ValueError, TypeError, KeyError, AttributeError)):
        return ModelError(
            ModelErrorKind.MALFORMED_STREAM,
            f"{target} sent a reply this app could not read (malformed stream). {saved}.",
        )
    return ModelError(ModelErrorKind.SERVER, f"{target} failed unexpectedly. {saved}.")


class StreamOptionsMemory:
    """Which endpoints refuse `stream_options` (some Databricks endpoints answer it with a 400).

    The first refusal is retried once without it and remembered for the endpoint, in this process,
    so later turns ask without it at once (and get no token counts from that endpoint).
    """

    def __init__(self) -> None:
        self._refusing: set[str] = set()
        self._lock = threading.Lock()

    def request(self, endpoint: str, send: Callable[[bool], Stream[Any]]) -> Stream[Any]:
        with self._lock:
            with_usage = endpoint not in self._refusing
        if not with_usage:
            return send(False)
        try:
            return send(True)
        except openai.APIStatusError as error:
            if error.status_code != 400 or "stream_options" not in str(error.message):
                raise
            logger.info("An endpoint refused stream_options; asking again without it")
            with self._lock:
                self._refusing.add(endpoint)
            return send(False)


def read_stream(
    stream: Stream[Any],
    *,
    wire_format: WireFormat,
    target: str,
    timeouts: Timeouts,
    max_tokens: int,
) -> Iterator[StreamEvent]:
    """The events of an SSE stream in `wire_format`, with the total timeout and the chat's max tokens
    enforced. A connection that breaks mid-stream (an incomplete HTTP body) is a cut stream."""
    guard = StreamGuard(target=target, total_seconds=timeouts.total, max_tokens=max_tokens)
    reader = _READERS[wire_format]
    try:
        request_id = stream.response.headers.get("x-request-id")
        if request_id:
            # Model Serving names every request; agents may name it again, with their trace.
            yield TraceReference(request_id=request_id[:200], trace_id=None)
        yield from reader(stream, guard)
    except ModelError:
        raise
    except openai.APITimeoutError as error:
        logger.warning("Model stream timed out")
        raise map_openai_error(error, target=target, timeouts=timeouts) from error
    except openai.APIConnectionError as error:
        logger.warning("Model stream broke off")
        raise guard.cut() from error
    except Exception as error:  # every other failure is mapped; the original goes to the log only
        logger.warning("Model stream failed: %s", type(error).__name__)
        raise map_openai_error(error, target=target, timeouts=timeouts) from error
    finally:
        stream.close()


_READERS = {
    WireFormat.CHAT_COMPLETIONS: read_chat_completions,
    WireFormat.CHAT_AGENT: read_chat_agent,
    WireFormat.RESPONSES: read_responses,
}


def _wire_messages(messages: list[PromptMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class OpenAICompatibleClient:
    """Any server speaking OpenAI chat completions at a base URL (Ollama, vLLM, LM Studio...)."""

    is_demo = False

    def __init__(self, *, base_url: str, api_key: str | None, timeouts: Timeouts) -> None:
        self._timeouts = timeouts
        self._base_url = base_url
        # Local servers often need no key, but the client insists on one.
        self._client = OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeouts.for_http(),
            max_retries=0,
            http_client=http_client_for(base_url, timeouts.for_http()),
        )
        self._without_stream_options = StreamOptionsMemory()

    @property
    def label(self) -> str:
        # Never the URL itself: it can carry credentials, and it says nothing a user can act on.
        return "OpenAI-compatible server (LLM_BASE_URL)"

    def stream_chat(
        self, messages: list[PromptMessage], params: GenerationParams, *, user_token: str | None = None
    ) -> Iterator[StreamEvent]:
        target = "The model server set in LLM_BASE_URL"

        def request(with_usage: bool) -> Stream[Any]:
            body = _request_body(
                WireFormat.CHAT_COMPLETIONS, messages, params, with_usage=with_usage, traced=False
            )
            body["model"] = params.model
            # Chunks read as plain dicts (cast_to=object), like every format but Responses: building
            # the client's typed chunk for each of a hundred tokens a second was a quarter of the
            # server's time under load (bench/load), and the readers take either.
            return self._client.post(
                "/chat/completions", body=body, cast_to=object, stream=True, stream_cls=Stream[object]
            )

        try:
            stream = self._without_stream_options.request(params.model, request)
        except Exception as error:
            logger.warning("Model request failed: %s", type(error).__name__)
            raise map_openai_error(error, target=target, timeouts=self._timeouts) from error
        yield from read_stream(
            stream,
            wire_format=WireFormat.CHAT_COMPLETIONS,
            target=target,
            timeouts=self._timeouts,
            max_tokens=params.max_tokens,
        )


class DatabricksServingClient:
    """A Databricks Model Serving endpoint, queried at `{host}/serving-endpoints/{name}/invocations`.

    The bearer token comes from databricks-sdk's config on every request, so OAuth tokens (the
    app's service principal) refresh by themselves. The SDK config is built on first use, not at
    start-up: with a host set it calls the network, and an unreachable host must not hold up a page.
    """

    is_demo = False

    def __init__(self, *, host: str, token_provider: Callable[[], str], timeouts: Timeouts) -> None:
        self._host = host
        self._token_provider = token_provider
        self._timeouts = timeouts
        self._client = OpenAI(
            base_url=f"{host}/serving-endpoints",
            api_key="replaced-on-every-request",
            timeout=timeouts.for_http(),
            max_retries=0,
            http_client=http_client_for(host, timeouts.for_http()),
        )
        self._without_stream_options = StreamOptionsMemory()

    @property
    def label(self) -> str:
        return "Databricks serving endpoint"

    def warm_up(self) -> None:
        """Fetch the credential now (for a service principal, an OAuth round trip), so that the first
        turn does not wait for it. Called in the background at start; a failure only means the first
        turn tries again, and says what went wrong then."""
        try:
            self._token_provider()
        except Exception as error:
            logger.info("Warming up the serving client failed: %s", type(error).__name__)

    def stream_chat(
        self, messages: list[PromptMessage], params: GenerationParams, *, user_token: str | None = None
    ) -> Iterator[StreamEvent]:
        if not is_serving_endpoint_name(params.model):
            # Never a path: the name goes into the URL the app calls with its own token.
            raise ModelError(
                ModelErrorKind.CONFIGURATION,
                "The model endpoint's name is not valid (letters, digits, - and _ only). Choose another "
                "model in the chat's settings; your message is saved.",
            )
        target = f"The Databricks serving endpoint `{params.model}`"
        # The user's own token when the app calls models as its users, else the app's.
        token = user_token or self._token_provider()
        wire_format = wire_format_for(params.task)
        traced = params.task in TRACED_TASKS

        def request(with_usage: bool) -> Stream[Any]:
            body = _request_body(wire_format, messages, params, with_usage=with_usage, traced=traced)
            # Chat completions and ChatAgent chunks are read as plain dicts (building a typed object for
            # each token was a quarter of the server's time under load, bench/load); Responses events
            # are parsed into the openai package's ResponseStreamEvent types.
            cast_to: Any = ResponseStreamEvent if wire_format is WireFormat.RESPONSES else object
            return self._client.with_options(api_key=token).post(
                f"/{quote(params.model, safe='')}/invocations",
                body=body,
                cast_to=cast_to,
                stream=True,
                stream_cls=Stream[cast_to],
            )

        try:
            if wire_format is WireFormat.CHAT_COMPLETIONS:
                stream = self._without_stream_options.request(params.model, request)
            else:
                stream = request(False)
        except Exception as error:
            logger.warning("Model request failed: %s", type(error).__name__)
            raise map_openai_error(error, target=target, timeouts=self._timeouts) from error
        yield from read_stream(
            stream,
            wire_format=wire_format,
            target=target,
            timeouts=self._timeouts,
            max_tokens=params.max_tokens,
        )


def _request_body(
    wire_format: WireFormat,
    messages: list[PromptMessage],
    params: GenerationParams,
    *,
    with_usage: bool,
    traced: bool,
) -> dict[str, Any]:
    """What each format's endpoint takes. Agents get no temperature or max tokens (ChatAgent and
    ResponsesAgent requests have no such fields; the agent's own model settings apply), and are
    asked for their MLflow trace, whose id feedback is recorded against."""
    body: dict[str, Any]
    if wire_format is WireFormat.RESPONSES:
        body = {"input": _wire_messages(messages), "stream": True}
    elif wire_format is WireFormat.CHAT_AGENT:
        body = {"messages": _wire_messages(messages), "stream": True}
    else:
        body = {
            "messages": _wire_messages(messages),
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "stream": True,
        }
        if with_usage:
            body["stream_options"] = {"include_usage": True}
    if traced:
        body["databricks_options"] = {"return_trace": True}
    return body


class DatabricksTokenProvider:
    """Bearer tokens from databricks-sdk's unified auth (PAT, OAuth M2M, profiles...).

    Built once on first use and kept; a failed build is retried on the next call.
    """

    def __init__(self, *, host: str, token: str | None, timeout_seconds: float) -> None:
        self._host = host
        self._token = token
        self._timeout = timeout_seconds
        self._config: Config | None = None
        self._lock = threading.Lock()

    def _build_config(self) -> Config:
        from databricks.sdk.core import Config

        kwargs: dict[str, Any] = {
            "host": self._host,
            "http_timeout_seconds": self._timeout,
            "retry_timeout_seconds": self._timeout,
        }
        if self._token:
            kwargs["token"] = self._token
            kwargs["auth_type"] = "pat"
        return Config(**kwargs)

    def __call__(self) -> str:
        try:
            with self._lock:
                if self._config is None:
                    self._config = self._build_config()
                headers = self._config.authenticate()
        except Exception as error:
            logger.warning("Databricks authentication failed: %s", type(error).__name__)
            raise ModelError(
                ModelErrorKind.CONFIGURATION,
                f"Could not sign in to the Databricks workspace at {self._host}. Check DATABRICKS_HOST and "
                "the credentials (DATABRICKS_TOKEN, or the app's service principal). Your message is saved; "
                "press Retry after fixing it.",
            ) from error
        authorization = str(headers.get("Authorization", ""))
        return authorization.removeprefix("Bearer ").strip()
