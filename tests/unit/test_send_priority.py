"""Messages first (components/send_priority.py): a run that has sent waits to draw while another run
is still sending, and no longer than its bound."""

import threading

import pytest

from components import send_priority

# Generous: long enough that a busy test machine never makes a wait that should end look stuck.
LONG_SECONDS = 10.0


def drawing_run(timeout_seconds: float) -> tuple[threading.Event, list[bool]]:
    """A page run that has sent its message and now waits to draw, on its own thread."""
    drew = threading.Event()
    outcome: list[bool] = []

    def run() -> None:
        outcome.append(send_priority.let_sends_go_first(timeout_seconds))
        drew.set()

    threading.Thread(target=run, daemon=True).start()
    return drew, outcome


def test_a_run_draws_at_once_when_no_other_run_is_sending() -> None:
    assert send_priority.runs_sending() == 0
    assert send_priority.let_sends_go_first(LONG_SECONDS) is True


def test_a_run_waits_to_draw_until_the_other_runs_have_sent() -> None:
    first, second = threading.Event(), threading.Event()

    def sending_run(done: threading.Event) -> None:
        with send_priority.sending():
            done.wait(LONG_SECONDS)

    senders = [threading.Thread(target=sending_run, args=(event,), daemon=True) for event in (first, second)]
    for sender in senders:
        sender.start()
    while send_priority.runs_sending() < 2:
        threading.Event().wait(0.001)
    drew, outcome = drawing_run(LONG_SECONDS)
    assert not drew.wait(0.2)  # both still sending
    first.set()
    senders[0].join(LONG_SECONDS)
    assert not drew.wait(0.2)  # one still sending
    second.set()
    assert drew.wait(LONG_SECONDS)
    assert outcome == [True]
    assert send_priority.runs_sending() == 0


def test_the_wait_has_a_bound() -> None:
    release = threading.Event()

    def stuck_run() -> None:
        with send_priority.sending():
            release.wait(LONG_SECONDS)

    sender = threading.Thread(target=stuck_run, daemon=True)
    sender.start()
    while send_priority.runs_sending() < 1:
        threading.Event().wait(0.001)
    try:
        drew, outcome = drawing_run(0.05)
        assert drew.wait(LONG_SECONDS)
        assert outcome == [False]
    finally:
        release.set()
        sender.join(LONG_SECONDS)


def test_a_refused_message_stops_counting_as_sending() -> None:
    with pytest.raises(ValueError, match="refused"), send_priority.sending():
        raise ValueError("refused")
    assert send_priority.runs_sending() == 0
