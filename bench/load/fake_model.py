"""A model server for load benchmarks: OpenAI chat completions over SSE with a fixed time to first
token and a fixed token rate, so the pages under test are the only variable.

Each reply is `R<tag> w1 w2 ...`, where <tag> is the first word of the last user message: the load
client knows exactly what every reply must say.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietAboutHangUps(ThreadingHTTPServer):
    """A client that drops a kept-alive connection (a model client closing one it will not reuse) ends
    that connection, as it would at a real server: not a traceback in the benchmark's output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def reply_words(prompt: str, tokens: int) -> list[str]:
    tag = prompt.split(" ", 1)[0]
    return [f"R{tag}"] + [f" w{index}" for index in range(1, tokens)]


class FakeModelServer:
    def __init__(self, *, first_token_seconds: float, tokens_per_second: float, reply_tokens: int) -> None:
        self.first_token_seconds = first_token_seconds
        self.tokens_per_second = tokens_per_second
        self.reply_tokens = reply_tokens
        self.calls = 0
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                model.calls += 1
                prompt = next(
                    (m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {"id": "bench", "object": "chat.completion.chunk", "created": 0, "model": "bench"}
                time.sleep(model.first_token_seconds)
                started = time.monotonic()
                # As a real endpoint does: a reply stops at the request's max_tokens, with
                # finish_reason "length" (a title asks for 24 tokens).
                limit = body.get("max_tokens") or model.reply_tokens
                words = reply_words(prompt, min(model.reply_tokens, limit))
                finish_reason = "length" if limit < model.reply_tokens else "stop"
                try:
                    for index, word in enumerate(words):
                        # Paced against the clock, so a busy machine does not slow the model down.
                        delay = started + index / model.tokens_per_second - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        choice = {"index": 0, "delta": {"content": word}, "finish_reason": None}
                        self._event({**base, "choices": [choice]})
                    last = {"index": 0, "delta": {}, "finish_reason": finish_reason}
                    self._event({**base, "choices": [last]})
                    if (body.get("stream_options") or {}).get("include_usage"):
                        tokens = len(words)
                        usage = {
                            "prompt_tokens": 40,
                            "completion_tokens": tokens,
                            "total_tokens": 40 + tokens,
                        }
                        self._event({**base, "choices": [], "usage": usage})
                    self._event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _event(self, payload: Any) -> None:
                data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = _QuietAboutHangUps(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 512
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-model").start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
