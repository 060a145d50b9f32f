"""The HTTP underneath the model clients: the standard library's `http.client`, with pooled
keep-alive connections, behind the `openai` client's HTTP interface.

Why not the `openai` client's own HTTP stack: it parses every HTTP chunk with `h11`, in pure Python,
and a streamed reply is one chunk per token. Reading a 100-token reply through the model client took
31 ms of CPU that way and 18 ms this way (bench/model_stream.py); under load that CPU is taken from
every other user's page (bench/load). Everything above the transport
stays the `openai` client's: requests, SSE decoding, status errors and their mapping.

What it keeps from the default transport: TLS verified against the same CA store (SSL_CERT_FILE or
SSL_CERT_DIR if set, else the system's); connect, read and write timeouts per request; a response
body decoded (gzip) by the client above; failures raised as the same `httpx2` exceptions, so a
timeout is still a timeout and a refused connection still unreachable. What it leaves to the
default transport: a URL that an HTTP(S)_PROXY setting applies to (`http_client_for`).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterator
from typing import Any, NoReturn

import httpx2

# As the openai client's default: an idle connection is reused for up to 5 s, and at most 100 are kept.
KEEPALIVE_SECONDS = 5.0
MAX_IDLE_CONNECTIONS = 100

# How long closing a response waits for the end of a body (see _ResponseBody._read_end).
END_OF_BODY_WAIT_SECONDS = 0.005

_Origin = tuple[str, str, int]  # scheme, host, port


class _PooledConnection:
    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.connection = connection
        self.idle_since = time.monotonic()

    def usable(self) -> bool:
        """Still open and quiet: a server that closed an idle connection makes its socket readable."""
        sock = self.connection.sock
        if sock is None or time.monotonic() - self.idle_since > KEEPALIVE_SECONDS:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


class StdlibTransport(httpx2.BaseTransport):
    """HTTP/1.1 over `http.client`, one pool of keep-alive connections per transport."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        # One TLS context for every connection (building one reads the CA store: tens of ms).
        self._ssl_context = ssl_context or httpx2.create_ssl_context()
        self._idle: dict[_Origin, list[_PooledConnection]] = {}
        self._lock = threading.Lock()
        # A client dropped without close() (a model client replaced) still closes its idle sockets.
        weakref.finalize(self, _close_idle, self._idle, self._lock)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        origin = (request.url.scheme, request.url.host, request.url.port or _default_port(request.url.scheme))
        reused = self._idle_connection(origin)
        if reused is not None:
            try:
                return self._response(request, origin, reused, self._exchange(reused, request, timeouts))
            except (httpx2.WriteError, _ClosedBeforeAnswering):
                # A server may close a kept-alive connection just as it is reused, before a byte of
                # answer (its idle timeout ran out): the request goes once more, on a new connection.
                pass
        connection = self._new_connection(origin, timeouts.get("connect"))
        try:
            response = self._exchange(connection, request, timeouts)
        except _ClosedBeforeAnswering as error:
            raise httpx2.RemoteProtocolError("the server closed the connection without answering") from error
        return self._response(request, origin, connection, response)

    def close(self) -> None:
        _close_idle(self._idle, self._lock)

    def _response(
        self,
        request: httpx2.Request,
        origin: _Origin,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
    ) -> httpx2.Response:
        return httpx2.Response(
            status_code=response.status,
            headers=response.getheaders(),
            stream=_ResponseBody(self, origin, connection, response),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason.encode("latin-1")},
            request=request,
        )

    @staticmethod
    def _exchange(
        connection: http.client.HTTPConnection, request: httpx2.Request, timeouts: dict[str, float | None]
    ) -> http.client.HTTPResponse:
        """Send the request and read the response's status and headers; the connection is closed on
        any failure."""
        try:
            StdlibTransport._send(connection, request, timeouts.get("write"))
            sock = connection.sock
            if sock is not None:
                sock.settimeout(timeouts.get("read"))
            try:
                response = connection.getresponse()
            except http.client.RemoteDisconnected as error:  # closed with not a byte of an answer
                raise _ClosedBeforeAnswering() from error
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                _raise_read_error(error)
        except BaseException:
            connection.close()
            raise
        return response

    def _idle_connection(self, origin: _Origin) -> http.client.HTTPConnection | None:
        with self._lock:
            connections = self._idle.get(origin, [])
            while connections:
                pooled = connections.pop()
                if pooled.usable():
                    return pooled.connection
                pooled.connection.close()
        return None

    def _new_connection(self, origin: _Origin, timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context)
        elif scheme == "http":
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            raise httpx2.UnsupportedProtocol(f"Unsupported URL scheme {scheme!r}")
        try:
            connection.connect()  # the TCP connection and, for https, the verified TLS handshake
        except TimeoutError as error:
            connection.close()
            raise httpx2.ConnectTimeout(str(error)) from error
        except OSError as error:  # refused, no route, no such host, a certificate that does not verify
            connection.close()
            raise httpx2.ConnectError(str(error)) from error
        sock = connection.sock
        if sock is not None:
            # Each request is written whole, at once: no waiting for an ACK between writes.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    @staticmethod
    def _send(connection: http.client.HTTPConnection, request: httpx2.Request, timeout: float | None) -> None:
        sock = connection.sock
        if sock is not None:
            sock.settimeout(timeout)
        try:
            # httpx2 built the headers, Host and Accept-Encoding included; they go out as they are.
            target = request.url.raw_path.decode("ascii")
            connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.raw:
                connection.putheader(name, value)
            connection.endheaders(request.read() or None)
        except TimeoutError as error:
            raise httpx2.WriteTimeout(str(error)) from error
        except OSError as error:
            raise httpx2.WriteError(str(error)) from error

    def _give_back(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            connections = self._idle.setdefault(origin, [])
            if len(connections) < MAX_IDLE_CONNECTIONS:
                connections.append(_PooledConnection(connection))
                return
        connection.close()


class _ResponseBody(httpx2.SyncByteStream):
    """The body as it arrives (`read1`: whatever the socket has, chunked encoding undone). A body read
    to its end gives its connection back to the pool; one closed early closes the connection."""

    def __init__(
        self,
        transport: StdlibTransport,
        origin: _Origin,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._connection: http.client.HTTPConnection | None = connection
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = _read_errors_mapped(self._response.read1, 65536)
            if not data:
                return
            yield data

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if not self._response.isclosed():
            self._read_end(connection)
        reusable = self._response.isclosed() and not self._response.will_close
        self._response.close()
        if reusable:
            self._transport._give_back(self._origin, connection)
        else:
            connection.close()

    def _read_end(self, connection: http.client.HTTPConnection) -> None:
        """The openai client stops reading at an SSE stream's `[DONE]`, just before the chunked body's
        closing chunk, which is then in flight or already here: read it, waiting at most a moment, so
        the connection is reused (for a remote endpoint, no new TLS handshake the next turn). A body
        with more to say (a reply stopped halfway) is left unread, and its connection closed."""
        sock = connection.sock
        if sock is None:
            return
        try:
            sock.settimeout(END_OF_BODY_WAIT_SECONDS)
            self._response.read1(65536)
        except (OSError, http.client.HTTPException, ValueError):
            pass  # not the end, or not in time: the connection is closed, never reused


def _close_idle(idle: dict[_Origin, list[_PooledConnection]], lock: threading.Lock) -> None:
    with lock:
        connections = [pooled for pooled_list in idle.values() for pooled in pooled_list]
        idle.clear()
    for pooled in connections:
        pooled.connection.close()


class _ClosedBeforeAnswering(Exception):
    """The server closed the connection before a byte of its answer (see handle_request)."""


def _read_errors_mapped(read: Any, *args: Any) -> Any:
    """`read(*args)`, with its failures raised as the httpx2 exceptions the openai client expects."""
    try:
        return read(*args)
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        _raise_read_error(error)


def _raise_read_error(error: Exception) -> NoReturn:
    if isinstance(error, TimeoutError):
        raise httpx2.ReadTimeout(str(error)) from error
    if isinstance(
        error, (http.client.IncompleteRead, http.client.RemoteDisconnected, http.client.BadStatusLine)
    ):
        raise httpx2.RemoteProtocolError("the server closed the connection mid-response") from error
    raise httpx2.ReadError(str(error)) from error


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def http_client_for(base_url: str, timeout: Any) -> httpx2.Client | None:
    """The HTTP client for a model client at `base_url`: this transport, or None (the openai client's
    own) when an HTTP(S)_PROXY setting applies to the URL, since the proxy is the way out then."""
    url = httpx2.URL(base_url)
    proxies = urllib.request.getproxies()
    if (proxies.get(url.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(url.host):
        return None
    # As the openai client's own: its timeouts and redirects; its connection limits are the pool's.
    return httpx2.Client(transport=StdlibTransport(), timeout=timeout, follow_redirects=True)
