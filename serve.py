"""Run Streamlit with the command line given, with two changes to how its server sends messages.

    python serve.py run Home.py --server.port 8000     (the same arguments as `streamlit run ...`)

1. Nagle's algorithm off on its connections. Streamlit 1.67 binds its listening socket itself, as a
   plain `socket.socket`, and asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections
   from sockets it made as TCP. So each page run, which writes several small websocket messages back
   to back, sends the first at once and holds the rest until the browser (or the Databricks Apps
   proxy) acknowledges it, which a receiver may delay by up to 40 ms. Measured with
   `bench/page_runs.py`: a run of an empty bare Streamlit page took 48 ms from the click to its last
   message, 7 ms of it server CPU. Linux gives an accepted connection the listening socket's
   TCP_NODELAY, so it is set once there, as Streamlit binds it.
2. A page run's messages handed to the event loop in batches. Streamlit hands every message a page
   run draws (each element, each block) from the script's thread to the server's event loop with its
   own `call_soon_threadsafe`, and the loop then wakes its sender with another: two wake-ups of the
   event loop (a write to its self-pipe each) per element, each one a switch between threads that
   share one core's worth of Python. Here a session's hand-offs wait in a list while the loop has
   one pending, and the loop runs them all, in order, when it gets to it; on the loop's own thread,
   "there is something to send" is set directly. Measured with `bench/page_runs.py`, alternating:
   a run of a 50-message chat took 40 ms of server CPU instead of 47.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from streamlit.runtime.app_session import AppSession
from streamlit.runtime.runtime import Runtime
from streamlit.web import cli
from streamlit.web.server.starlette import starlette_server

Binder = Callable[[str, int, int], socket.socket]
Handoff = Callable[[Any, Callable[[], None]], None]  # AppSession._call_soon_on_event_loop


def without_nagle(bind: Binder) -> Binder:
    """`bind`, with TCP_NODELAY set on the listening socket it returns (inherited by accepted ones)."""

    def bind_without_nagle(address: str, port: int, backlog: int) -> socket.socket:
        listening = bind(address, port, backlog)
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return listening

    return bind_without_nagle


class _WaitingHandoffs:
    """One session's callbacks waiting for the event loop, and whether the loop has a run of them due."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.callbacks: list[Callable[[], None]] = []
        self.due = False


_HANDOFFS_ATTRIBUTE = "_serve_waiting_handoffs"


def batched(hand_off: Handoff) -> Handoff:
    """`hand_off` (a session's way to run a callback on the event loop), with the callbacks that come
    while the loop has not yet run the last batch added to that batch: one wake-up for all of them,
    and still run in the order they came."""

    def hand_off_batched(session: Any, callback: Callable[[], None]) -> None:
        waiting = session.__dict__.get(_HANDOFFS_ATTRIBUTE)
        if waiting is None:  # (setdefault is atomic: two threads arriving at once get the same one)
            waiting = session.__dict__.setdefault(_HANDOFFS_ATTRIBUTE, _WaitingHandoffs())
        with waiting.lock:
            waiting.callbacks.append(callback)
            if waiting.due:
                return
            waiting.due = True
        try:
            hand_off(session, functools.partial(_run_waiting, waiting))
        except BaseException:
            with waiting.lock:
                waiting.due = False
            raise

    return hand_off_batched


def _run_waiting(waiting: _WaitingHandoffs) -> None:
    with waiting.lock:
        callbacks, waiting.callbacks, waiting.due = waiting.callbacks, [], False
    for callback in callbacks:
        try:
            callback()
        except Exception as error:
            # As asyncio does with a callback of its own: reported, and the ones after it still run.
            asyncio.get_running_loop().call_exception_handler(
                {"message": "Exception in a Streamlit session callback", "exception": error}
            )


def set_directly_on_the_loop(enqueued: Callable[[Any], None]) -> Callable[[Any], None]:
    """`Runtime._enqueued_some_message`, which wakes the sender with `call_soon_threadsafe` from any
    thread, setting its event directly when called on the event loop's own thread (as it is for every
    message handed over above)."""

    def enqueued_some_message(runtime: Any) -> None:
        loop_objects = runtime._get_async_objs()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop's thread
            running = None
        if running is loop_objects.eventloop:
            loop_objects.need_send_data.set()
        else:
            enqueued(runtime)

    return enqueued_some_message


def install_without_nagle() -> bool:
    """Wrap Streamlit's socket binding; False if this Streamlit binds in some other way (the app
    still runs, as plain `streamlit run` would; tests/unit/test_serve.py catches it first)."""
    bind = getattr(starlette_server, "_bind_socket", None)
    if bind is None:
        return False
    starlette_server._bind_socket = without_nagle(bind)
    return True


def install_batched_handoffs() -> bool:
    """Batch the hand-offs to the event loop; False if this Streamlit has no such functions (the app
    still runs, as plain `streamlit run` would; tests/unit/test_serve.py catches it first)."""
    hand_off = getattr(AppSession, "_call_soon_on_event_loop", None)
    enqueued = getattr(Runtime, "_enqueued_some_message", None)
    if hand_off is None or enqueued is None:
        return False
    AppSession._call_soon_on_event_loop = batched(hand_off)  # type: ignore[method-assign]
    Runtime._enqueued_some_message = set_directly_on_the_loop(enqueued)  # type: ignore[method-assign]
    return True


if __name__ == "__main__":
    if not install_without_nagle():
        print("serve.py: Streamlit binds its socket otherwise; Nagle's algorithm stays on.", file=sys.stderr)
    if not install_batched_handoffs():
        print("serve.py: Streamlit hands messages to its event loop otherwise; not batched.", file=sys.stderr)
    sys.argv[0] = "streamlit"
    sys.exit(cli.main())
