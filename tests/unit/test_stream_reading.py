"""How a turn reads its model's stream (services/turns.py): every event, in order; the first at once;
and once the reply flows, in bursts, not one wake-up per token."""

import itertools
import queue
import threading
import time
import uuid
from collections.abc import Iterator

from services.model_clients.port import StreamEvent, TextDelta, TraceReference
from services.reply_buffer import TurnBuffer
from services.turns import _until_stopped

_END = object()


def network_stream(
    events: list[StreamEvent], *, first_after: float, every: float
) -> tuple[Iterator[StreamEvent], list[float]]:
    """Events as a model server sends them: produced on a clock by another thread whether or not
    anyone reads, so they pile up (as in a socket's buffer) while the reader pauses. Also the times
    they were sent, filled in as they are."""
    arrived: queue.SimpleQueue[object] = queue.SimpleQueue()
    sent_at: list[float] = []

    def send() -> None:
        time.sleep(first_after)
        for event in events:
            sent_at.append(time.monotonic())
            arrived.put(event)
            time.sleep(every)
        arrived.put(_END)

    def received() -> Iterator[StreamEvent]:
        threading.Thread(target=send, daemon=True).start()
        while (event := arrived.get()) is not _END:
            yield event  # type: ignore[misc]

    return received(), sent_at


def read(stream: Iterator[StreamEvent], *, pause_seconds: float) -> list[tuple[float, StreamEvent]]:
    return [
        (time.monotonic(), event)
        for event in _until_stopped(stream, TurnBuffer(uuid.uuid4()), pause_seconds=pause_seconds)
    ]


def wake_ups(times: list[float]) -> int:
    """How many separate moments the reader received events at (events less than 2 ms apart arrived
    together)."""
    return 1 + sum(1 for earlier, later in itertools.pairwise(times) if later - earlier > 0.002)


def tokens(count: int) -> list[StreamEvent]:
    return [TraceReference(request_id="r-1", trace_id=None)] + [TextDelta(f"w{i} ") for i in range(count)]


def test_every_event_arrives_in_order() -> None:
    events = tokens(60)
    stream, _ = network_stream(events, first_after=0.05, every=0.003)
    assert [event for _, event in read(stream, pause_seconds=0.03)] == events


def test_the_first_token_is_handed_on_at_once() -> None:
    # A pause this long would show if it came before the first token (or right after the request).
    stream, sent_at = network_stream(tokens(5), first_after=0.2, every=0.02)
    received = read(stream, pause_seconds=1.0)
    first_text_sent = sent_at[1]
    first_text_received = next(at for at, event in received if isinstance(event, TextDelta))
    assert first_text_received - first_text_sent < 0.5


def test_a_flowing_reply_is_read_in_bursts() -> None:
    # 80 tokens 5 ms apart. Read one by one they arrive at about 80 moments; with a pause after each
    # wait for the network, the tokens that came in meanwhile arrive together.
    def moments(pause_seconds: float) -> int:
        stream, _ = network_stream(tokens(80), first_after=0.0, every=0.005)
        return wake_ups([at for at, _ in read(stream, pause_seconds=pause_seconds)])

    assert moments(pause_seconds=0) > 50
    assert moments(pause_seconds=0.04) < 30


def test_a_stream_that_never_waits_is_read_straight_through() -> None:
    # Everything already received (a fast model, or a reader that fell behind). Paused even after
    # every other event, this would take 200 s; a machine busy elsewhere may cause a pause or two.
    events = tokens(2000)
    started = time.monotonic()
    received = read(iter(events), pause_seconds=0.2)
    assert len(received) == len(events)
    assert time.monotonic() - started < 10
