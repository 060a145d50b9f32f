"""A fake Databricks workspace on loopback that speaks the real protocols the app uses.

Routes:
- `GET /oidc/.well-known/oauth-authorization-server` and `POST /oidc/v1/token`: OAuth for a service
  principal (client credentials), as databricks-sdk uses it with DATABRICKS_CLIENT_ID/SECRET.
- `POST /api/2.0/postgres/credentials` (Lakebase Autoscaling) and `POST /api/2.0/database/credentials`
  (provisioned): a database credential, whatever `database_password` currently returns.
- `GET /api/2.0/serving-endpoints`: the endpoint list.
- `POST /serving-endpoints/{name}/invocations`: Databricks' query API (OpenAI chat format, SSE when
  `stream` is true: `data: {chunk}` lines, usage in the last chunk, then `data: [DONE]`).
- `POST /serving-endpoints/chat/completions`: the OpenAI-compatible route (model in the body).
- `GET /.well-known/databricks-config`: the host metadata, pointing at the OAuth endpoints.

Endpoint names choose the behaviour, so one server serves every scenario:
`chat` (a normal streamed reply), `status-401`/`403`/`429`/`500`/`503`, `context-too-long`,
`malformed` (invalid JSON in the stream), `error-event` (an error object inside a 200 stream),
`slow-first-token` (waits longer than the client's first-token timeout), `cut-stream` (the connection
closes after two words: no finish reason, no `[DONE]`), `empty` (a finished reply with no text),
`runaway` (ignores max_tokens), `rejects-stream-options` (a 400 naming `stream_options` when the
request has it, a normal reply without), and any other name is 404.
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

    def endpoint_list(self) -> list[dict[str, Any]]:
        """What `GET /api/2.0/serving-endpoints` answers: chat endpoints, one not ready, one embedding."""
        ready = {"ready": "READY", "config_update": "NOT_UPDATING"}
        return [
            {"name": "chat", "task": "llm/v1/chat", "state": ready},
            {"name": "agent-endpoint", "task": "agent/v1/chat", "state": ready},
            {"name": "warming-up", "task": "llm/v1/chat", "state": {"ready": "NOT_READY"}},
            {"name": "embeddings", "task": "llm/v1/embeddings", "state": ready},
        ]

    def reply_text(self, body: dict[str, Any]) -> str:
        last_user = next(
            (m.get("content", "") for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
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

            def _start_stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def _event(self, payload: Any) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                self.wfile.write(f"data: {text}\n\n".encode())
                self.wfile.flush()

            def _authorized(self) -> bool:
                accepted = {f"Bearer {fake.token}", *(f"Bearer {t}" for t in fake.issued_tokens)}
                return self.headers.get("Authorization") in accepted

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
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

            def do_POST(self) -> None:  # noqa: N802
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
                    RecordedRequest("POST", self.path, self.headers.get("Authorization"), body)
                )
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
                streaming = {"chat", "malformed", "error-event", "slow-first-token", "cut-stream", "empty"}
                if name not in streaming | {"runaway", "rejects-stream-options"}:
                    self._json(
                        404,
                        {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Endpoint {name} not found"},
                    )
                    return
                self._start_stream()
                if name == "slow-first-token":
                    time.sleep(fake.slow_first_token_seconds)
                time.sleep(fake.first_token_delay_seconds)
                base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": name}
                words = fake.reply_text(body).split(" ")
                if name == "empty":
                    words = []
                if name == "runaway":  # ignores max_tokens: writes until the client hangs up
                    words = ["on"] * RUNAWAY_WORDS
                try:
                    for index, word in enumerate(words):
                        delta = {"content": word if index == 0 else " " + word}
                        if index == 0:
                            delta["role"] = "assistant"
                        self._event(
                            {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                        )
                        time.sleep(CHUNK_DELAY_SECONDS)
                        if name == "malformed" and index == 1:
                            self._event("{not json")
                            return
                        if name == "error-event" and index == 1:
                            self._event({"error": {"message": "upstream failure", "type": "server_error"}})
                            return
                        if name == "cut-stream" and index == 1:
                            return  # the connection closes: no finish reason, no [DONE]
                    self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                    # As in the OpenAI protocol: a usage chunk only when the request asked for it.
                    if (body.get("stream_options") or {}).get("include_usage"):
                        self._event(
                            {
                                **base,
                                "choices": [],
                                "usage": {
                                    "prompt_tokens": 11,
                                    "completion_tokens": len(words),
                                    "total_tokens": 11 + len(words),
                                },
                            }
                        )
                    self._event("[DONE]")
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client stopped reading (Stop, timeout)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-serving").start()
        return self
