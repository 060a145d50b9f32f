"""What every fake HTTP server of the suite shares: it listens on loopback, says its URL, stops."""

from __future__ import annotations

from dataclasses import dataclass
from http.server import ThreadingHTTPServer


@dataclass
class LoopbackServer:
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
