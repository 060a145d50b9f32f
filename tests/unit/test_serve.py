"""serve.py: the connections Streamlit accepts have Nagle's algorithm off (TCP_NODELAY), through
Streamlit's own socket binding; and a page run's messages reach the event loop in batches, in order.
Each change is checked against Streamlit as installed, so an upgrade that works otherwise fails here
first."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.runtime import Runtime
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
    assert serve.install_without_nagle()
    listening = starlette_server._bind_socket("127.0.0.1", 0, 8)
    with listening, accepted_connection(listening) as accepted:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_a_streamlit_that_binds_otherwise_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(starlette_server, "_bind_socket")
    assert not serve.install_without_nagle()


# -- hand-offs to the event loop ---------------------------------------------------------------------


class CountingLoop:
    """A real event loop on a thread of its own, counting the wake-ups it is sent from other threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.wake_ups = 0
        self.errors: list[BaseException] = []
        self.loop.set_exception_handler(lambda _, context: self.errors.append(context["exception"]))
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call_soon_threadsafe(self, callback: Callable[[], None]) -> None:
        self.wake_ups += 1
        self.loop.call_soon_threadsafe(callback)

    def is_closed(self) -> bool:
        return self.loop.is_closed()

    def hold(self) -> threading.Event:
        """Keep the loop busy until the returned event is set, as a loop busy sending would be."""
        release = threading.Event()
        self.loop.call_soon_threadsafe(release.wait)
        return release

    def settle(self) -> None:
        done = threading.Event()
        self.loop.call_soon_threadsafe(done.set)
        assert done.wait(5)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@pytest.fixture
def counting_loop() -> Iterator[CountingLoop]:
    loop = CountingLoop()
    yield loop
    loop.stop()


def session_on(loop: CountingLoop) -> Any:
    """What AppSession._call_soon_on_event_loop uses of its session: the session's event loop."""
    return SimpleNamespace(_event_loop=loop)


def test_streamlit_as_is_wakes_the_loop_for_every_message(counting_loop: CountingLoop) -> None:
    """Why the batching exists: if this fails, Streamlit batches by itself and serve.py's can go."""
    session = session_on(counting_loop)
    for _ in range(3):
        AppSession._call_soon_on_event_loop(session, lambda: None)  # type: ignore[arg-type]
    assert counting_loop.wake_ups == 3


def test_hand_offs_through_serve_run_in_order_after_one_wake_up(counting_loop: CountingLoop) -> None:
    hand_off = serve.batched(AppSession._call_soon_on_event_loop)
    session, ran = session_on(counting_loop), []
    release = counting_loop.hold()
    for number in range(500):  # a page run drawing while the loop is busy
        hand_off(session, lambda number=number: ran.append(number))
    release.set()
    counting_loop.settle()
    assert ran == list(range(500))
    assert counting_loop.wake_ups == 1

    hand_off(session, lambda: ran.append("later"))  # a batch run, the next one wakes the loop again
    counting_loop.settle()
    assert ran[-1] == "later"
    assert counting_loop.wake_ups == 2


def test_a_failing_hand_off_is_reported_and_the_rest_still_run(counting_loop: CountingLoop) -> None:
    hand_off = serve.batched(AppSession._call_soon_on_event_loop)
    session, ran = session_on(counting_loop), []

    def fail() -> None:
        raise ValueError("a callback failed")

    release = counting_loop.hold()
    hand_off(session, lambda: ran.append(1))
    hand_off(session, fail)
    hand_off(session, lambda: ran.append(2))
    release.set()
    counting_loop.settle()
    assert ran == [1, 2]
    assert [type(error) for error in counting_loop.errors] == [ValueError]


def test_something_to_send_is_set_directly_on_the_loop_and_by_a_wake_up_elsewhere(
    counting_loop: CountingLoop,
) -> None:
    need_send_data = asyncio.Event()
    runtime = SimpleNamespace(
        _get_async_objs=lambda: SimpleNamespace(eventloop=counting_loop.loop, need_send_data=need_send_data)
    )
    original_from_elsewhere: list[object] = []
    enqueued = serve.set_directly_on_the_loop(lambda runtime: original_from_elsewhere.append(runtime))

    counting_loop.loop.call_soon_threadsafe(enqueued, runtime)  # on the loop's thread
    counting_loop.settle()
    assert need_send_data.is_set()
    assert original_from_elsewhere == []

    enqueued(runtime)  # on this thread: Streamlit's own way, a wake-up of the loop
    assert original_from_elsewhere == [runtime]


def test_streamlit_has_what_the_batching_wraps() -> None:
    """If this fails, Streamlit hands messages over some other way: see whether it still wakes the
    loop per message, and move or drop the batching."""
    assert callable(getattr(AppSession, "_call_soon_on_event_loop", None))
    assert callable(getattr(Runtime, "_enqueued_some_message", None))


def test_a_streamlit_that_hands_off_otherwise_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(AppSession, "_call_soon_on_event_loop")
    assert not serve.install_batched_handoffs()
