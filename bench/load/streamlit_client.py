"""A browser tab without a browser: Streamlit 1.67's websocket protocol, for load benchmarks.

What a tab does, as the server sees it (streamlit/web/server/starlette/starlette_websocket.py and
the frontend's connection code):
- it opens `ws://host:port/_stcore/stream` with the subprotocols `["streamlit", <xsrf token or
  "PLACEHOLDER_AUTH_TOKEN">]`; every other header of the upgrade request (here the forwarded
  identity) shows in `st.context.headers`;
- nothing runs until it sends a `BackMsg.rerun_script` (a ClientState: query string, page, widget
  states); the server answers with ForwardMsgs: `new_session`, `navigation` (with st.navigation,
  the hash of the page shown, which later reruns send back), deltas, `script_finished`;
- a chat input is an `Element.chat_input`; text is sent as that widget's `chat_input_value` in
  the next rerun (a trigger: sent once);
- streamed text arrives as repeated `new_element.markdown` deltas at one `delta_path`, each with
  the whole text so far; an exception shows as an `Element.exception`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

_DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


@dataclass
class RunResult:
    """One script run, timed from the moment its rerun was sent."""

    first_text_seconds: float | None = None  # the first markdown that holds the expected text
    finished_seconds: float | None = None  # script_finished
    updates: int = 0  # deltas that changed the reply's text
    reply_text: str | None = None  # the reply's last text
    exceptions: list[str] = field(default_factory=list)
    error: str | None = None  # a timeout or a dropped connection


class BrowserTab:
    """One simulated tab: a websocket session with its identity header."""

    def __init__(self, base_url: str, *, headers: dict[str, str], page: str = "", query: str = "") -> None:
        self._url = base_url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self._headers = headers
        self._page = page
        self._query = query  # the URL's query string, without "?", sent with every rerun
        self._page_script_hash = ""
        self._chat_input_id: str | None = None
        self._socket: ClientConnection | None = None
        self._inbox: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._closed: str | None = None

    async def open(self) -> None:
        self._socket = await connect(
            self._url,
            subprotocols=["streamlit", "PLACEHOLDER_AUTH_TOKEN"],  # type: ignore[list-item]
            additional_headers=self._headers,
            max_size=None,
            proxy=None,
            open_timeout=60,
            ping_interval=None,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        # Read continuously: the server drops a client that lets hundreds of messages queue up.
        assert self._socket is not None
        try:
            async for data in self._socket:
                self._inbox.put_nowait((time.perf_counter(), data if isinstance(data, bytes) else None))
        except ConnectionClosed as error:
            self._closed = f"connection closed: {error}"
        finally:
            self._closed = self._closed or "connection closed"
            self._inbox.put_nowait((time.perf_counter(), None))

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()

    def _rerun(self, widgets: list[WidgetState]) -> bytes:
        message = BackMsg()
        state = message.rerun_script
        state.page_script_hash = self._page_script_hash
        state.query_string = self._query
        if not self._page_script_hash:
            state.page_name = self._page  # the URL path, as a first load sends it
        state.widget_states.widgets.extend(widgets)
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        return message.SerializeToString()

    async def rerun(self, *, timeout: float = 120) -> RunResult:
        """A run with nothing changed, as after a click that changes nothing on the page."""
        return await self._run([], expect=None, prompt=None, timeout=timeout)

    async def load(self, *, timeout: float = 120) -> RunResult:
        """The first run, as a page load: learns the chat input."""
        return await self._run([], expect=None, prompt=None, timeout=timeout)

    async def send(self, text: str, *, expect: str, timeout: float = 120) -> RunResult:
        """Type `text` into the chat input; `expect` identifies the reply's first streamed words."""
        if self._chat_input_id is None:
            raise RuntimeError("the page showed no chat input")
        widget = WidgetState(id=self._chat_input_id)
        widget.chat_input_value.data = text
        return await self._run([widget], expect=expect, prompt=text, timeout=timeout)

    async def _run(
        self, widgets: list[WidgetState], *, expect: str | None, prompt: str | None, timeout: float
    ) -> RunResult:
        assert self._socket is not None
        result = RunResult()
        while not self._inbox.empty():  # what the last run left (status changes)
            _, data = self._inbox.get_nowait()
            if data is None:
                result.error = self._closed
                return result
        started = time.perf_counter()
        await self._socket.send(self._rerun(widgets))
        reply_path: tuple[int, ...] | None = None
        running = False
        while True:
            remaining = started + timeout - time.perf_counter()
            try:
                received, data = await asyncio.wait_for(self._inbox.get(), max(remaining, 0.001))
            except TimeoutError:
                result.error = f"no end of run within {timeout:.0f} s"
                return result
            if data is None:
                result.error = self._closed
                return result
            message = ForwardMsg()
            message.ParseFromString(data)
            kind = message.WhichOneof("type")
            if kind == "new_session":
                self._page_script_hash = message.new_session.page_script_hash
                running = True
            elif kind == "navigation":
                # With st.navigation, the page the run showed (new_session names the entry script).
                self._page_script_hash = message.navigation.page_script_hash
            elif not running:
                continue  # the end of an earlier run
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                element_type = element.WhichOneof("type")
                path = tuple(message.metadata.delta_path)
                if element_type == "chat_input":
                    self._chat_input_id = element.chat_input.id
                elif element_type == "exception":
                    result.exceptions.append(f"{element.exception.type}: {element.exception.message}")
                elif element_type == "markdown" and expect is not None:
                    body = element.markdown.body
                    if reply_path is None and expect in body and body != prompt:
                        reply_path = path
                        result.first_text_seconds = received - started
                    if path == reply_path and body != result.reply_text:
                        result.updates += 1
                        result.reply_text = body
            elif kind == "script_finished" and message.script_finished in _DONE:
                result.finished_seconds = time.perf_counter() - started
                return result
