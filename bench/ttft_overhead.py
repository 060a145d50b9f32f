"""Time to first token that the app adds over the model's own.

The offline demo model waits a fixed delay before its first word. A turn is submitted through the
chat service as the chat page submits it (`submit_and_read_page`: message and request saved in
PostgreSQL, the job handed to the turn runner, and the page read), and the clock stops when the
first text is readable: (a) in the turn buffer, (b) at the first yield of the page's batched stream
(what `st.write_stream` receives). Overhead = measured - model delay.

Usage: .venv/bin/python bench/ttft_overhead.py [--turns 20] [--delay 0.5]
Runs against a fresh embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from throwaway import throwaway_application

from services.chat import PageQuery
from services.views import User


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.5, help="the model's own first-token delay, seconds")
    args = parser.parse_args()
    with throwaway_application(
        demo_first_token_delay_seconds=args.delay, demo_word_delay_seconds=0.001
    ) as app:
        user = User("bench@example.com")
        buffer_ms, page_ms = [], []
        for turn in range(args.turns + 1):  # the first turn warms connections and is dropped
            session = app.chat.create_session(user)
            started = time.perf_counter()
            result, _ = app.chat.submit_and_read_page(
                user,
                session.id,
                f"turn {turn}",
                client_message_id=str(uuid.uuid4()),
                query=PageQuery(recent_limit=20, message_limit=50),
            )
            buffer = app.runner.buffer_for(result.request_id)
            first_page_yield = None
            while buffer.text() == "":
                time.sleep(0.0005)
            first_in_buffer = time.perf_counter()
            for _ in buffer.stream_batches():
                if first_page_yield is None:
                    first_page_yield = time.perf_counter()
            if turn == 0:
                continue
            buffer_ms.append((first_in_buffer - started - args.delay) * 1000)
            page_ms.append((first_page_yield - started - args.delay) * 1000)
    print(f"turns: {args.turns}, model first-token delay: {args.delay * 1000:.0f} ms")
    print(
        f"overhead to first text in the turn buffer: median {statistics.median(buffer_ms):.1f} ms "
        f"(p90 {statistics.quantiles(buffer_ms, n=10)[-1]:.1f} ms)"
    )
    print(
        f"overhead to the page's first streamed yield: median {statistics.median(page_ms):.1f} ms "
        f"(p90 {statistics.quantiles(page_ms, n=10)[-1]:.1f} ms)"
    )


if __name__ == "__main__":
    main()
