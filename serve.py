"""Run Streamlit with the command line given, with Nagle's algorithm off on its connections.

    python serve.py run Home.py --server.port 8000     (the same arguments as `streamlit run ...`)

Why: Streamlit 1.67 binds its listening socket itself, as a plain `socket.socket`, and asyncio turns
Nagle's algorithm off (TCP_NODELAY) only on connections from sockets it made as TCP. So each page run,
which writes several small websocket messages back to back, sends the first at once and holds the
rest until the browser (or the Databricks Apps proxy) acknowledges it, which a receiver may delay by
up to 40 ms. Measured with `bench/page_runs.py`: a run of an empty bare Streamlit page took 48 ms from
the click to its last message, 7 ms of it server CPU. Linux gives an accepted connection the
listening socket's TCP_NODELAY, so it is set once there, as Streamlit binds it.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable

from streamlit.web import cli
from streamlit.web.server.starlette import starlette_server

Binder = Callable[[str, int, int], socket.socket]


def without_nagle(bind: Binder) -> Binder:
    """`bind`, with TCP_NODELAY set on the listening socket it returns (inherited by accepted ones)."""

    def bind_without_nagle(address: str, port: int, backlog: int) -> socket.socket:
        listening = bind(address, port, backlog)
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return listening

    return bind_without_nagle


def install() -> bool:
    """Wrap Streamlit's socket binding; False if this Streamlit binds in some other way (the app
    still runs, as plain `streamlit run` would; tests/unit/test_serve.py catches it first)."""
    bind = getattr(starlette_server, "_bind_socket", None)
    if bind is None:
        return False
    starlette_server._bind_socket = without_nagle(bind)
    return True


if __name__ == "__main__":
    if not install():
        print("serve.py: Streamlit binds its socket otherwise; Nagle's algorithm stays on.", file=sys.stderr)
    sys.argv[0] = "streamlit"
    sys.exit(cli.main())
