"""What a running turn has produced so far, shared between the worker that writes it and the
page scripts that draw it; and how a turn ended."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from persistence.statuses import MessageStatus
from services.reply_details import ReplyDetails
from services.views import MessageView


@dataclass(frozen=True)
class TurnOutcome:
    status: MessageStatus
    text: str
    error_message: str | None
    details: ReplyDetails = field(default_factory=ReplyDetails)


@dataclass(frozen=True)
class ReplySnapshot:
    """A running reply as the page draws it: the text so far and its steps, reasoning and sources."""

    text: str
    details: ReplyDetails


class TurnBuffer:
    """What a running turn has produced so far. Written by one worker thread, read by page scripts."""

    def __init__(self, request_id: uuid.UUID) -> None:
        self.request_id = request_id
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._details = ReplyDetails()
        self._version = 0  # grows with every change, text or details, so readers know to redraw
        self._done = threading.Event()
        self._changed = threading.Condition(self._lock)
        self._stop_requested = threading.Event()
        self.outcome: TurnOutcome | None = None
        # The reply as stored, set before `finish` when the runner stored it: the page that streamed
        # it draws its footer from this instead of reading it back.
        self.stored_reply: MessageView | None = None

    def append(self, text: str) -> None:
        with self._changed:
            self._parts.append(text)
            self._version += 1
            self._changed.notify_all()

    def update_details(self, change: Callable[[ReplyDetails], ReplyDetails]) -> None:
        with self._changed:
            self._details = change(self._details)
            self._version += 1
            self._changed.notify_all()

    def text(self) -> str:
        with self._lock:
            joined = "".join(self._parts)
            self._parts = [joined]
            return joined

    def details(self) -> ReplyDetails:
        with self._lock:
            return self._details

    def snapshot(self) -> ReplySnapshot:
        with self._lock:
            joined = "".join(self._parts)
            self._parts = [joined]
            return ReplySnapshot(joined, self._details)

    def finish(self, outcome: TurnOutcome) -> None:
        with self._changed:
            self.outcome = outcome
            self._done.set()
            self._changed.notify_all()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def request_stop(self) -> None:
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def stream_updates(self, *, interval_seconds: float = 0.1) -> Iterator[ReplySnapshot]:
        """Yield the reply so far whenever it changed, at most about ten times a second, until done.

        The first change is yielded as soon as it exists (time to first token is what users feel);
        after that, yields are spaced by `interval_seconds`. Each yield makes Streamlit resend the
        whole text so far, so batching keeps the bytes sent from growing with the token count.
        """
        seen = 0
        last_yield = float("-inf")
        while True:
            with self._changed:
                if self._version == seen and not self._done.is_set():
                    self._changed.wait(timeout=1.0)
                finished = self._done.is_set()
            wait = interval_seconds - (time.monotonic() - last_yield)
            if wait > 0 and not finished:
                time.sleep(wait)
            with self._lock:
                version = self._version
            if version != seen:
                seen = version
                yield self.snapshot()
                last_yield = time.monotonic()
            if finished:
                with self._lock:
                    if self._version == seen:
                        return

    def stream_batches(self, *, interval_seconds: float = 0.1) -> Iterator[str]:
        """The text only, as increments: what was added since the last yield."""
        sent = 0
        for snapshot in self.stream_updates(interval_seconds=interval_seconds):
            if len(snapshot.text) > sent:
                yield snapshot.text[sent:]
                sent = len(snapshot.text)
