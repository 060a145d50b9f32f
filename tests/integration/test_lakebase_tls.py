"""Lakebase over TLS: the app checks the server's certificate whatever PGSSLMODE says.

A Databricks App's database resource sets PGSSLMODE=require, which in libpq encrypts without
checking who answers. The app asks libpq for verify-full instead. The stand-in here is a server on
loopback that answers PostgreSQL's TLS request with a self-signed certificate: the app must refuse it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from persistence.lakebase import LakebaseTarget, build_lakebase_engine
from tests.fakes.certificates import self_signed_certificate

# PostgreSQL's requests before the startup message: encrypt with TLS, or with GSSAPI.
SSL_REQUEST = (80877103).to_bytes(4, "big")
GSSENC_REQUEST = (80877104).to_bytes(4, "big")


class UntrustedTlsServer:
    """Answers PostgreSQL's TLS request and offers a certificate no public CA signed."""

    def __init__(self, folder: Path) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(*self_signed_certificate(folder))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.tls_requests = 0
        self.handshake_refused_by_client = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        while True:
            request = connection.recv(8)
            if len(request) < 8:
                return
            if request[4:] == GSSENC_REQUEST:
                connection.sendall(b"N")  # no GSSAPI here; the client goes on to ask for TLS
                continue
            if request[4:] != SSL_REQUEST:
                return  # a plain startup message: this server only speaks TLS
            self.tls_requests += 1
            connection.sendall(b"S")
            try:
                with self._context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                self.handshake_refused_by_client.set()
            return

    def close(self) -> None:
        self._listener.close()


class StaticCredentials:
    def token(self, *, force_refresh: bool = False) -> str:
        return "database-token"


@pytest.fixture
def untrusted_server(tmp_path):
    server = UntrustedTlsServer(tmp_path)
    yield server
    server.close()


@pytest.mark.parametrize("sslmode", ["require", "prefer"])
def test_a_server_with_an_untrusted_certificate_is_refused(untrusted_server, sslmode) -> None:
    target = LakebaseTarget(
        host="127.0.0.1",
        port=untrusted_server.port,
        database="chat",
        user="app",
        sslmode=sslmode,
        endpoint="projects/p/branches/b/endpoints/e",
        instance_name=None,
    )
    engine = build_lakebase_engine(target, StaticCredentials(), pool_size=1)  # type: ignore[arg-type]
    try:
        with pytest.raises(OperationalError) as refused, engine.connect():
            pass
    finally:
        engine.dispose()
    assert "certificate verify failed" in str(refused.value)
    assert untrusted_server.tls_requests >= 1
    # The server thread sees the client's refusal a moment after the client raises.
    assert untrusted_server.handshake_refused_by_client.wait(timeout=5)
