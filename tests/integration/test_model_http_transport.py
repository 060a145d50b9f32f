"""The model clients' HTTP transport (services/model_clients/http_transport.py) over real sockets:
keep-alive reuse, never a half-read connection reused, a connection the server dropped while idle,
TLS verified against the CA store, and proxies left to the openai client's own transport."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from services.model_clients.http_transport import http_client_for
from services.model_clients.openai_compatible import OpenAICompatibleClient, Timeouts
from services.model_clients.port import GenerationParams, ModelError, ModelErrorKind, PromptMessage, TextDelta
from tests.fakes.certificates import self_signed_certificate

TIMEOUTS = Timeouts(connect=2, first_token=2, total=10)


class SseModel:
    """Chat completions over SSE, one event a word; it notes each request's client port."""

    def __init__(
        self,
        *,
        close_after_each_reply: bool = False,
        drop_a_second_request: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.client_ports: list[int] = []
        self.dropped = 0
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            requests_on_this_connection = 0

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.requests_on_this_connection += 1
                if drop_a_second_request and self.requests_on_this_connection > 1:
                    # As a server whose keep-alive timeout ran out just as the request came in.
                    model.dropped += 1
                    self.close_connection = True
                    return
                model.client_ports.append(self.client_address[1])
                words = body["messages"][-1]["content"].split()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
                try:
                    for index, word in enumerate(words):
                        delta = {"content": word if index == 0 else f" {word}"}
                        self._chunk(
                            {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                        )
                    self._chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                    self._chunk("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client stopped reading (Stop)
                    return
                if close_after_each_reply:
                    # Without "Connection: close": as a server that drops idle keep-alive connections.
                    self.close_connection = True

            def _chunk(self, payload: Any) -> None:
                data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str = "127.0.0.1") -> str:
        scheme = "https" if isinstance(self.server.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://{host}:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def model() -> Iterator[SseModel]:
    server = SseModel()
    yield server
    server.stop()


def ask(client: OpenAICompatibleClient, words: str) -> Iterator[str]:
    events = client.stream_chat([PromptMessage("user", words)], GenerationParams("m", 0.0, 50))
    return (event.text for event in events if isinstance(event, TextDelta))


def test_turns_after_the_first_reuse_its_connection(model: SseModel) -> None:
    client = OpenAICompatibleClient(base_url=model.url(), api_key=None, timeouts=TIMEOUTS)
    replies = ["".join(ask(client, f"turn {n} of three")) for n in range(3)]
    assert replies == [f"turn {n} of three" for n in range(3)]
    assert len(model.client_ports) == 3
    assert len(set(model.client_ports)) == 1


def test_a_reply_stopped_halfway_never_leaves_its_connection_to_the_next_turn(model: SseModel) -> None:
    client = OpenAICompatibleClient(base_url=model.url(), api_key=None, timeouts=TIMEOUTS)
    stopped = ask(client, "a long reply that is stopped after its first word")
    assert next(stopped) == "a"
    stopped.close()  # what Stop does: the stream is closed with most of the reply unread
    assert "".join(ask(client, "the next turn")) == "the next turn"
    assert len(set(model.client_ports)) == 2


@pytest.mark.parametrize(
    ("closing", "dropped_requests"),
    [({"close_after_each_reply": True}, 0), ({"drop_a_second_request": True}, 1)],
    ids=["closed while idle", "closed as it is reused, the request unanswered"],
)
def test_a_kept_alive_connection_the_server_closed_is_replaced(
    closing: dict[str, bool], dropped_requests: int
) -> None:
    """Closed while idle: seen before reuse. Closed just as the next request goes out: that request
    was never read, so it goes once more, on a new connection."""
    model = SseModel(**closing)
    try:
        client = OpenAICompatibleClient(base_url=model.url(), api_key=None, timeouts=TIMEOUTS)
        assert "".join(ask(client, "first turn")) == "first turn"
        assert "".join(ask(client, "second turn")) == "second turn"
        assert model.dropped == dropped_requests
        assert len(set(model.client_ports)) == 2
    finally:
        model.stop()


def tls_model(folder: Path) -> SseModel:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed_certificate(folder))
    return SseModel(tls=context)


def test_a_model_server_with_an_untrusted_certificate_is_refused_before_the_prompt_is_sent(
    tmp_path: Path,
) -> None:
    model = tls_model(tmp_path)
    try:
        client = OpenAICompatibleClient(base_url=model.url("localhost"), api_key="key", timeouts=TIMEOUTS)
        with pytest.raises(ModelError) as refused:
            list(ask(client, "secret prompt words"))
        assert refused.value.kind is ModelErrorKind.UNREACHABLE
        assert model.client_ports == []  # no request was read: the prompt never left the app
    finally:
        model.stop()


def test_a_certificate_trusted_through_ssl_cert_file_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CA store is the default transport's: SSL_CERT_FILE (a corporate CA, say) is honoured."""
    model = tls_model(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "server.crt"))
    try:
        client = OpenAICompatibleClient(base_url=model.url("localhost"), api_key="key", timeouts=TIMEOUTS)
        assert "".join(ask(client, "over verified TLS")) == "over verified TLS"
        with pytest.raises(ModelError):  # the name must match too: the certificate names localhost
            list(ask(OpenAICompatibleClient(base_url=model.url(), api_key="key", timeouts=TIMEOUTS), "x"))
    finally:
        model.stop()


def test_a_proxy_setting_leaves_requests_to_the_openai_clients_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeout = TIMEOUTS.for_http()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert http_client_for("https://workspace.example.com", timeout) is not None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    assert http_client_for("https://workspace.example.com", timeout) is None
    monkeypatch.setenv("NO_PROXY", "workspace.example.com")
    assert http_client_for("https://workspace.example.com", timeout) is not None
