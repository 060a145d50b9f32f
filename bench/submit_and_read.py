"""What a submit and a chat page's read model cost the server, in-process: wall time and the
calling thread's CPU time, medians.

A submit (`ChatService.submit_message`: the message, its request and the prompt, in one transaction)
runs before a reply's first token; the read model (`ChatService.page`) runs on every chat page run.
Under load both compete for the one core the server's threads share (bench/load), so their CPU time
matters as much as their wall time. The user has 20 chats, and the page reads one of them (the
output says how many messages it holds).

Usage: .venv/bin/python bench/submit_and_read.py [--runs 300]
Runs against a fresh embedded PostgreSQL in a temporary folder, with the offline demo model.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from throwaway import throwaway_application

from services.chat import PageQuery
from services.views import User

WARM_UP_RUNS = 20  # connections, prepared statements and caches warm up; not counted


def median_ms(values: list[float]) -> float:
    return statistics.median(values[WARM_UP_RUNS:]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="page reads to time (submits: a fifth)")
    args = parser.parse_args()
    with throwaway_application(demo_first_token_delay_seconds=0.0, demo_word_delay_seconds=0.0) as app:
        user = User("bench@example.com")

        def submit(session_id: uuid.UUID | None, text: str) -> tuple[uuid.UUID, float, float]:
            wall, cpu = time.perf_counter(), time.thread_time()
            result = app.chat.submit_message(user, session_id, text, client_message_id=str(uuid.uuid4()))
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            app.runner.buffer_for(result.request_id).wait(10)
            return result.session_id, wall, cpu

        chats = [submit(None, f"chat {number}")[0] for number in range(20)]
        submit_wall, submit_cpu = [], []
        for number in range(max(WARM_UP_RUNS + 10, args.runs // 5)):
            _, wall, cpu = submit(chats[number % len(chats)], f"again {number}")
            submit_wall.append(wall)
            submit_cpu.append(cpu)
        read_wall, read_cpu = [], []
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.thread_time()
            page = app.chat.page(user, chats[-1], PageQuery(recent_limit=20, message_limit=20))
            read_wall.append(time.perf_counter() - wall)
            read_cpu.append(time.thread_time() - cpu)
    print(
        f"submit to an open chat: median {median_ms(submit_wall):.1f} ms, CPU {median_ms(submit_cpu):.1f} ms"
    )
    print(
        f"chat page read model ({len(page.recent)} chats listed, {len(page.messages)} messages): "
        f"median {median_ms(read_wall):.1f} ms, CPU {median_ms(read_cpu):.1f} ms"
    )


if __name__ == "__main__":
    main()
