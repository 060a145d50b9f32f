"""serve.py: the connections Streamlit accepts have Nagle's algorithm off (TCP_NODELAY), through
Streamlit's own socket binding, so a Streamlit upgrade that binds differently fails here first."""

from __future__ import annotations

import socket

import pytest
from streamlit.web.server.starlette import starlette_server

import serve


def accepted_connection(listening: socket.socket) -> socket.socket:
    client = socket.create_connection(listening.getsockname()[:2], timeout=5)
    listening.setblocking(True)
    accepted, _ = listening.accept()
    client.close()
    return accepted


def test_streamlit_as_is_leaves_nagle_on() -> None:
    """Why serve.py exists: if this fails, Streamlit sets TCP_NODELAY itself and serve.py can go."""
    listening = starlette_server._bind_socket("127.0.0.1", 0, 8)
    with listening, accepted_connection(listening) as accepted:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0


def test_connections_accepted_through_serve_have_nagle_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)  # undone after
    assert serve.install()
    listening = starlette_server._bind_socket("127.0.0.1", 0, 8)
    with listening, accepted_connection(listening) as accepted:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_a_streamlit_that_binds_otherwise_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(starlette_server, "_bind_socket")
    assert not serve.install()
