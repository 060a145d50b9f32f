"""A fake Databricks workspace serving endpoint on loopback that speaks the real protocol.

Routes:
- `POST /serving-endpoints/{name}/invocations`: Databricks' query API (OpenAI chat format, SSE when
  `stream` is true: `data: {chunk}` lines, usage in the last chunk, then `data: [DONE]`).
- `POST /serving-endpoints/chat/completions`: the OpenAI-compatible route (model in the body).
- `GET /.well-known/databricks-config`: 404, as on workspaces without host metadata.

Endpoint names choose the behaviour, so one server serves every scenario:
`chat` (a normal streamed reply), `status-401`/`403`/`429`/`500`/`503`, `context-too-long`,
`malformed` (invalid JSON in the stream), `error-event` (an error object inside a 200 stream),
`slow-first-token` (waits longer than the client's first-token timeout), and any other name is 404.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHUNK_DELAY_SECONDS = 0.01


@dataclass
class RecordedRequest:
    method: str
    path: str
    authorization: str | None
    body: dict[str, Any] | None


@dataclass
class FakeServing:
    token: str = "dapi-test-token"
    first_token_delay_seconds: float = 0.0
    slow_first_token_seconds: float = 3.0
    requests: list[RecordedRequest] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

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

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fake.requests.append(
                    RecordedRequest("GET", self.path, self.headers.get("Authorization"), None)
                )
                self._json(404, {"error_code": "NOT_FOUND", "message": "no such resource"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
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
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
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
                if name not in {"chat", "malformed", "error-event", "slow-first-token"}:
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
                    self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
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

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
