"""Messages first: a page run that has just sent a message draws the rest of its page only once no
other page run in this process is still on its way to the model.

Page runs are threads that share one interpreter lock. When several people send at once, every run
saves its message and hands it to the model, then draws its page (sidebar, header, the
conversation). Drawing costs more CPU than the sending, and the model answers only once it has been
asked: if the runs that have sent already draw while others are still sending, the last model call
goes out late and so does its first token. Waiting costs the waiting run nothing it would notice,
since its own reply is at least the model's time to first token away. Ten messages sent at once
(bench/load's client, ten tabs, sixteen such bursts): the slowest first text of a burst 225 -> 211
ms at the median, against about 145 for a bare Streamlit page (bench/performance-log.md).

The wait is bounded (`SENDS_FIRST_SECONDS`), so a run never waits on a stuck submit for long, nor
forever under a steady stream of sends.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

# At most this long a run that has sent waits before drawing: about a model's quickest time to its
# first token, which the run waits for anyway.
SENDS_FIRST_SECONDS = 0.1

_condition = threading.Condition()
_sending = 0  # page runs between a message arriving and their submit returning (see `sending`)


@contextlib.contextmanager
def sending() -> Iterator[None]:
    """Around a page run's submit: from the message it got until the submit returns, its turn handed
    to the turn runner (or the message refused). The chat page's submit then reads the page on the
    same connection, and that read counts too: ending the count at the hand-over instead made no
    difference in ten alternating pairs of load runs (N=10 p95 1.38 against 1.41 times the bare
    page's, medians; bench/performance-log.md)."""
    global _sending
    with _condition:
        _sending += 1
    try:
        yield
    finally:
        with _condition:
            _sending -= 1
            if _sending == 0:
                _condition.notify_all()


def let_sends_go_first(timeout_seconds: float = SENDS_FIRST_SECONDS) -> bool:
    """Wait until no page run is sending, for at most `timeout_seconds`; True if none is."""
    with _condition:
        return _condition.wait_for(lambda: _sending == 0, timeout_seconds)


def runs_sending() -> int:
    """How many page runs are sending at this moment (what the tests watch)."""
    with _condition:
        return _sending
