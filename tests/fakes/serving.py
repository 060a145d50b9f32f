"""A fake Databricks workspace on loopback that speaks the real protocols the app uses.

Routes:
- `GET /oidc/.well-known/oauth-authorization-server` and `POST /oidc/v1/token`: OAuth for a service
  principal (client credentials), as databricks-sdk uses it with DATABRICKS_CLIENT_ID/SECRET.
- `POST /api/2.0/postgres/credentials` (Lakebase Autoscaling) and `POST /api/2.0/database/credentials`
  (provisioned): a database credential, whatever `database_password` currently returns.
- `GET /api/2.0/serving-endpoints` and `GET /api/2.0/serving-endpoints/{name}`: the endpoints, with
  their tasks.
- `POST /serving-endpoints/{name}/invocations`: Databricks' query API, SSE when `stream` is true, in
  the format of the endpoint's task: chat completions (`data: {chunk}` lines, a usage chunk when
  asked for, then `data: [DONE]`), ChatAgent chunks, or ResponsesAgent events. Streams use chunked
  transfer encoding, as the platform does, so a stream cut short is an incomplete HTTP body.
  Every answer has an `x-request-id` header; with `databricks_options.return_trace` (agents) the
  last event carries `databricks_output` with the request id and an MLflow trace id.
- `POST /api/3.0/mlflow/traces/{trace_id}/assessments` and `PATCH .../assessments/{id}`: MLflow
  feedback on a trace, recorded in `assessments`.
- `POST /api/2.0/vector-search/indexes/{name}/query`: a Vector Search index over `PASSAGES`.
- `POST /serving-endpoints/chat/completions`: the OpenAI-compatible route (model in the body).
- `GET /.well-known/databricks-config`: the host metadata, pointing at the OAuth endpoints.

Endpoint names choose the behaviour, so one server serves every scenario: `chat` (a normal streamed
reply, stopped at `max_tokens` with finish reason `length` as Model Serving does),
`status-401`/`403`/`429`/`500`/`503`, `context-too-long`, `malformed` (invalid JSON in the stream),
`error-event` (an error object inside a 200 stream), `slow-first-token` (waits longer than the
client's first-token timeout), `cut-stream` (the connection closes after two words: no finish
reason, no `[DONE]`), `empty` (a finished reply with no text), `runaway` (ignores max_tokens),
`rejects-stream-options` (a 400 naming `stream_options` when the request has it, a normal reply
without), `reasoning` (a reasoning model: content as a list of `reasoning` and `text` parts),
`agent-chat` (a ChatAgent that calls a tool, then answers), `agent-responses` (a ResponsesAgent
doing the same, in MLflow's events without lifecycle events), `agent-responses-cut` (one that stops
mid-answer without finishing its item), and any other name is 404.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.loopback import LoopbackServer

CHUNK_DELAY_SECONDS = 0.01
# What the agents' tool is called and answers.
TOOL_NAME = "lookup_weather"
TOOL_RESULT = '{"city": "Paris", "temperature_c": 21}'
# The Vector Search index the fake serves, and its rows.
VECTOR_INDEX = "main.docs.handbook_index"
PASSAGES = [
    {
        "title": "Expenses policy",
        "url": "https://handbook.example.com/expenses",
        "text": "Travel expenses are reimbursed within 30 days when receipts are filed in the portal.",
    },
    {
        "title": "Holidays",
        "url": "https://handbook.example.com/holidays",
        "text": "Every employee has 25 days of paid holiday a year, booked in the HR portal.",
    },
    {
        "title": "Security",
        "url": "https://handbook.example.com/security",
        "text": "Laptops must use full disk encryption and lock after five minutes.",
    },
]
# The fields each task's endpoint takes at the top level of a request; anything else is a 400.
ACCEPTED_FIELDS = {
    "llm/v1/chat": {
        "messages",
        "temperature",
        "max_tokens",
        "stream",
        "stream_options",
        "model",
        "n",
        "stop",
    },
    "agent/v1/chat": {
        "messages",
        "temperature",
        "max_tokens",
        "stream",
        "stream_options",
        "databricks_options",
    },
    "agent/v2/chat": {"messages", "stream", "context", "custom_inputs", "databricks_options"},
    "agent/v1/responses": {"input", "stream", "context", "custom_inputs", "databricks_options"},
}
# How long `runaway` would write if nobody stopped it.
RUNAWAY_WORDS = 20_000


@dataclass
class RecordedRequest:
    method: str
    path: str
    authorization: str | None
    body: dict[str, Any] | None


@dataclass
class FakeServing(LoopbackServer):
    token: str = "dapi-test-token"
    client_id: str = "app-service-principal"
    client_secret: str = "oauth-client-secret-value"
    issued_tokens: list[str] = field(default_factory=list)
    database_password: Callable[[], str] | None = None
    credential_calls: int = 0
    first_token_delay_seconds: float = 0.0
    slow_first_token_seconds: float = 3.0
    requests: list[RecordedRequest] = field(default_factory=list)
    # MLflow assessments received, in order: (method, trace_id, body).
    assessments: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    # How many assessment calls to refuse with a 503 before accepting (to test retries).
    failing_assessment_calls: int = 0
    vector_queries: list[dict[str, Any]] = field(default_factory=list)
    # Trace ids this workspace recorded: as MLflow does, an assessment on any other trace is a 404.
    traces: set[str] = field(default_factory=set)

    def endpoint_list(self) -> list[dict[str, Any]]:
        """What `GET /api/2.0/serving-endpoints` answers: chat endpoints, one not ready, one embedding."""
        ready = {"ready": "READY", "config_update": "NOT_UPDATING"}
        return [
            {"name": "chat", "task": "llm/v1/chat", "state": ready},
            {"name": "agent-endpoint", "task": "agent/v1/chat", "state": ready},
            {"name": "agent-chat", "task": "agent/v2/chat", "state": ready},
            {"name": "agent-responses", "task": "agent/v1/responses", "state": ready},
            {"name": "agent-responses-cut", "task": "agent/v1/responses", "state": ready},
            {"name": "reasoning", "task": "llm/v1/chat", "state": ready},
            {"name": "warming-up", "task": "llm/v1/chat", "state": {"ready": "NOT_READY"}},
            {"name": "embeddings", "task": "llm/v1/embeddings", "state": ready},
        ]

    def reply_text(self, body: dict[str, Any], *, field: str = "messages") -> str:
        last_user = next(
            (m.get("content", "") for m in reversed(body.get(field) or []) if m.get("role") == "user"), ""
        )
        return f"Served reply to: {last_user}"

    def start(self) -> FakeServing:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def _json(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _start_stream(self, request_id: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("x-request-id", request_id)
                self.end_headers()
                self.close_connection = True

            def _event(self, payload: Any) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                data = f"data: {text}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _end_stream(self) -> None:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _authorized(self) -> bool:
                accepted = {f"Bearer {fake.token}", *(f"Bearer {t}" for t in fake.issued_tokens)}
                return self.headers.get("Authorization") in accepted

            def do_GET(self) -> None:
                fake.requests.append(
                    RecordedRequest("GET", self.path, self.headers.get("Authorization"), None)
                )
                path = self.path.split("?")[0]
                if path == "/.well-known/databricks-config":
                    # Host metadata, as workspaces publish it: where OAuth lives.
                    self._json(200, {"oidc_endpoint": f"{fake.url}/oidc", "workspace_id": "1234567890"})
                    return
                if path == "/oidc/.well-known/oauth-authorization-server":
                    self._json(
                        200,
                        {
                            "issuer": f"{fake.url}/oidc",
                            "authorization_endpoint": f"{fake.url}/oidc/v1/authorize",
                            "token_endpoint": f"{fake.url}/oidc/v1/token",
                        },
                    )
                    return
                if path == "/api/2.0/serving-endpoints":
                    if not self._authorized():
                        self._json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                        return
                    self._json(200, {"endpoints": fake.endpoint_list()})
                    return
                if path.startswith("/api/2.0/serving-endpoints/"):
                    if not self._authorized():
                        self._json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                        return
                    name = path.removeprefix("/api/2.0/serving-endpoints/")
                    found = [e for e in fake.endpoint_list() if e["name"] == name]
                    if not found:
                        self._json(
                            404,
                            {
                                "error_code": "RESOURCE_DOES_NOT_EXIST",
                                "message": f"Endpoint {name} not found",
                            },
                        )
                        return
                    self._json(200, found[0])
                    return
                self._json(404, {"error_code": "NOT_FOUND", "message": "no such resource"})

            def _token_request(self, raw: bytes) -> None:
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                client_id, secret = form.get("client_id"), form.get("client_secret")
                authorization = self.headers.get("Authorization", "")
                if authorization.startswith("Basic "):
                    client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
                if (client_id, secret) != (fake.client_id, fake.client_secret):
                    self._json(401, {"error": "invalid_client", "error_description": "bad client"})
                    return
                access_token = f"oauth-access-{len(fake.issued_tokens) + 1}-{time.time_ns()}"
                fake.issued_tokens.append(access_token)
                self._json(200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600})

            def _database_credential(self, provisioned: bool) -> None:
                if not self._authorized():
                    self._json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                    return
                if fake.database_password is None:
                    self._json(404, {"error_code": "NOT_FOUND", "message": "no database"})
                    return
                fake.credential_calls += 1
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                key = "expiration_time" if provisioned else "expire_time"
                self._json(200, {"token": fake.database_password(), key: expires})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                if path == "/oidc/v1/token":
                    fake.requests.append(RecordedRequest("POST", path, None, None))
                    self._token_request(raw)
                    return
                if path in {"/api/2.0/postgres/credentials", "/api/2.0/database/credentials"}:
                    fake.requests.append(
                        RecordedRequest("POST", path, self.headers.get("Authorization"), None)
                    )
                    self._database_credential(provisioned=path.startswith("/api/2.0/database"))
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._json(400, {"error_code": "BAD_REQUEST", "message": "invalid JSON"})
                    return
                fake.requests.append(
                    RecordedRequest(self.command, self.path, self.headers.get("Authorization"), body)
                )
                if path.startswith("/api/3.0/mlflow/traces/"):
                    self._assessment(path, body)
                    return
                if path.startswith("/api/2.0/vector-search/indexes/") and path.endswith("/query"):
                    self._vector_query(path, body)
                    return
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:1] != ["serving-endpoints"]:
                    self._json(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "not found"})
                    return
                if parts[1:] == ["chat", "completions"]:
                    name = str(body.get("model", ""))
                elif len(parts) == 3 and parts[2] == "invocations":
                    name = parts[1]
                else:
                    self._json(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "not found"})
                    return
                if not self._authorized():
                    self._json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                    return
                self._serve(name, body)

            def _serve(self, name: str, body: dict[str, Any]) -> None:
                if name.startswith("status-"):
                    status = int(name.removeprefix("status-"))
                    headers = {"Retry-After": "7"} if status == 429 else None
                    self._json(status, {"error_code": "ERROR", "message": f"status {status}"}, headers)
                    return
                if name == "context-too-long":
                    self._json(
                        400,
                        {
                            "error_code": "BAD_REQUEST",
                            "message": "Input is too long: maximum context length is 8192 tokens.",
                        },
                    )
                    return
                if name == "rejects-stream-options" and "stream_options" in body:
                    # As some Databricks endpoints answer a parameter they do not take.
                    self._json(
                        400,
                        {
                            "error_code": "BAD_REQUEST",
                            "message": "Invalid request: unknown field 'stream_options'.",
                        },
                    )
                    return
                tasks = {endpoint["name"]: endpoint["task"] for endpoint in fake.endpoint_list()}
                task = tasks.get(name, "llm/v1/chat")
                refusal = _refused_fields(task, body)
                if refusal is not None:
                    # As MLflow's agent server and the foundation model API answer fields they do not take.
                    self._json(400, {"error_code": "BAD_REQUEST", "message": refusal})
                    return
                streaming = {"chat", "malformed", "error-event", "slow-first-token", "cut-stream", "empty"}
                agents = {"agent-chat", "agent-responses", "agent-responses-cut"}
                if name not in streaming | agents | {"runaway", "rejects-stream-options", "reasoning"}:
                    self._json(
                        404,
                        {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Endpoint {name} not found"},
                    )
                    return
                request_id = f"req-{len(fake.requests)}-{time.time_ns()}"
                self._start_stream(request_id)
                if name == "slow-first-token":
                    time.sleep(fake.slow_first_token_seconds)
                time.sleep(fake.first_token_delay_seconds)
                trace = None
                if (body.get("databricks_options") or {}).get("return_trace"):
                    trace = {
                        "databricks_request_id": request_id,
                        "trace": {"info": {"trace_id": f"tr-{request_id}"}},
                    }
                    fake.traces.add(f"tr-{request_id}")
                try:
                    if task == "agent/v2/chat":
                        finished = self._chat_agent(body, trace)
                    elif task == "agent/v1/responses":
                        finished = self._responses(name, body, trace)
                    else:
                        finished = self._chat_completions(name, body)
                    if finished:
                        self._end_stream()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client stopped reading (Stop, timeout)

            def _chat_completions(self, name: str, body: dict[str, Any]) -> bool:
                base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": name}
                words = fake.reply_text(body).split(" ")
                if name == "empty":
                    words = []
                finish_reason = "stop"
                if len(words) > (body.get("max_tokens") or len(words)):
                    # As Model Serving does: the reply stops at max_tokens, finish reason "length".
                    words, finish_reason = words[: body["max_tokens"]], "length"
                if name == "runaway":  # ignores max_tokens: writes until the client hangs up
                    words = ["on"] * RUNAWAY_WORDS
                if name == "reasoning":
                    # Claude with thinking and GPT-OSS on Databricks: content as a list of parts.
                    for thought in ("Let me think.", " The user wants a reply."):
                        part = {"type": "reasoning", "summary": [{"type": "summary_text", "text": thought}]}
                        self._event({**base, "choices": [{"index": 0, "delta": {"content": [part]}}]})
                for index, word in enumerate(words):
                    text = word if index == 0 else " " + word
                    content: Any = [{"type": "text", "text": text}] if name == "reasoning" else text
                    delta = {"content": content}
                    if index == 0:
                        delta["role"] = "assistant"
                    self._event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                    time.sleep(CHUNK_DELAY_SECONDS)
                    if name == "malformed" and index == 1:
                        self._event("{not json")
                        return True
                    if name == "error-event" and index == 1:
                        self._event({"error": {"message": "upstream failure", "type": "server_error"}})
                        return True
                    if name == "cut-stream" and index == 1:
                        return False  # the connection closes mid-body: no finish reason, no [DONE]
                self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]})
                # As in the OpenAI protocol: a usage chunk only when the request asked for it.
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {
                        "prompt_tokens": 11,
                        "completion_tokens": len(words),
                        "total_tokens": 11 + len(words),
                    }
                    self._event({**base, "choices": [], "usage": usage})
                self._event("[DONE]")
                return True

            def _chat_agent(self, body: dict[str, Any], trace: dict[str, Any] | None) -> bool:
                """MLflow ChatAgent: a tool call, its result, then the answer streamed by message id."""
                call = {"id": "call-1", "type": "function", "function": {"name": TOOL_NAME, "arguments": ""}}
                for piece in ('{"city": ', '"Paris"}'):  # arguments arrive in pieces, as models stream them
                    call["function"]["arguments"] = piece
                    self._event(
                        {"delta": {"role": "assistant", "content": "", "id": "msg-1", "tool_calls": [call]}}
                    )
                self._event(
                    {
                        "delta": {
                            "role": "tool",
                            "content": TOOL_RESULT,
                            "id": "msg-2",
                            "tool_call_id": "call-1",
                            "name": TOOL_NAME,
                        }
                    }
                )
                for index, word in enumerate(fake.reply_text(body, field="messages").split(" ")):
                    text = word if index == 0 else " " + word
                    self._event({"delta": {"role": "assistant", "content": text, "id": "msg-3"}})
                    time.sleep(CHUNK_DELAY_SECONDS)
                if trace is not None:
                    self._event(
                        {
                            "delta": {"role": "assistant", "content": "", "id": "msg-3"},
                            "databricks_output": trace,
                        }
                    )
                return True

            def _responses(self, name: str, body: dict[str, Any], trace: dict[str, Any] | None) -> bool:
                """MLflow ResponsesAgent, as served: output items and text deltas, no lifecycle events."""
                call = {
                    "type": "function_call",
                    "id": "fc-1",
                    "call_id": "call-1",
                    "name": TOOL_NAME,
                    "arguments": '{"city": "Paris"}',
                }
                self._event({"type": "response.output_item.done", "item": call})
                output = {"type": "function_call_output", "call_id": "call-1", "output": TOOL_RESULT}
                self._event({"type": "response.output_item.done", "item": output})
                words = fake.reply_text(body, field="input").split(" ")
                for index, word in enumerate(words):
                    text = word if index == 0 else " " + word
                    self._event({"type": "response.output_text.delta", "item_id": "msg-1", "delta": text})
                    time.sleep(CHUNK_DELAY_SECONDS)
                    if name == "agent-responses-cut" and index == 1:
                        return False  # the item never finishes and the body is cut
                message = {
                    "type": "message",
                    "id": "msg-1",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": " ".join(words)}],
                }
                done: dict[str, Any] = {"type": "response.output_item.done", "item": message}
                if trace is not None:
                    done["databricks_output"] = trace
                self._event(done)
                return True

            def do_PATCH(self) -> None:
                self.do_POST()

            def _assessment(self, path: str, body: dict[str, Any]) -> None:
                """MLflow 3's trace assessments: POST creates one, PATCH (with an update mask) changes it."""
                if not self._authorized():
                    self._json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                    return
                parts = path.removeprefix("/api/3.0/mlflow/traces/").split("/")
                if parts[0] not in fake.traces:
                    self._json(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such trace"})
                    return
                if fake.failing_assessment_calls > 0:
                    fake.failing_assessment_calls -= 1
                    self._json(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "try again"})
                    return
                assessment = body.get("assessment")
                valid = (
                    isinstance(assessment, dict)
                    and assessment.get("trace_id") == parts[0]
                    and isinstance(assessment.get("assessment_name"), str)
                    and isinstance((assessment.get("feedback") or {}).get("value"), bool)
                )
                if self.command == "POST" and len(parts) == 2 and parts[1] == "assessments":
                    source = (assessment or {}).get("source") or {}
                    if not valid or source.get("source_type") != "HUMAN" or not source.get("source_id"):
                        self._json(
                            400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad assessment"}
                        )
                        return
                    assessment_id = f"a-{len(fake.assessments) + 1}"
                    fake.assessments.append(("POST", parts[0], body))
                    self._json(200, {"assessment": {**assessment, "assessment_id": assessment_id}})
                    return
                if self.command == "PATCH" and len(parts) == 3 and parts[1] == "assessments":
                    if not valid or not body.get("update_mask"):
                        self._json(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad update"})
                        return
                    if not any(
                        method == "POST" and trace == parts[0] for method, trace, _ in fake.assessments
                    ):
                        self._json(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no assessment"})
                        return
                    fake.assessments.append(("PATCH", parts[0], body))
                    self._json(200, {"assessment": {**assessment, "assessment_id": parts[2]}})
                    return
                self._json(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "not found"})

            def _vector_query(self, path: str, body: dict[str, Any]) -> None:
                """A Delta Sync index with `title`, `url` and `text` columns, queried by text: the
                passages sharing the most words with the query, best first, each row ending in its score."""
                if not self._authorized():
                    self._json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                    return
                name = path.removeprefix("/api/2.0/vector-search/indexes/").removesuffix("/query")
                if name != VECTOR_INDEX:
                    self._json(
                        404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Index {name} not found"}
                    )
                    return
                columns = body.get("columns")
                if (
                    not isinstance(columns, list)
                    or not columns
                    or not isinstance(body.get("query_text"), str)
                ):
                    self._json(
                        400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "columns and query_text"}
                    )
                    return
                unknown = [c for c in columns if c not in {"title", "url", "text"}]
                if unknown:
                    self._json(
                        400,
                        {"error_code": "INVALID_PARAMETER_VALUE", "message": f"unknown columns {unknown}"},
                    )
                    return
                fake.vector_queries.append(body)
                query_words = set(body["query_text"].lower().split())
                scored = sorted(
                    ((len(query_words & set(p["text"].lower().split())) / 10, p) for p in PASSAGES),
                    key=lambda pair: -pair[0],
                )[: int(body.get("num_results") or 10)]
                rows = [[passage[c] for c in columns] + [score] for score, passage in scored]
                manifest = {
                    "column_count": len(columns) + 1,
                    "columns": [{"name": c} for c in columns] + [{"name": "score"}],
                }
                self._json(
                    200, {"manifest": manifest, "result": {"row_count": len(rows), "data_array": rows}}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-serving").start()
        return self


def _refused_fields(task: str, body: dict[str, Any]) -> str | None:
    unknown = sorted(set(body) - ACCEPTED_FIELDS.get(task, set(body)))
    if unknown:
        return f"Invalid request: unknown field(s) {', '.join(repr(f) for f in unknown)}."
    required = "input" if task == "agent/v1/responses" else "messages"
    if not isinstance(body.get(required), list):
        return f"Invalid request: '{required}' is required."
    return None
