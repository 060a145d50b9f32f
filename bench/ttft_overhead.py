"""Time to first token that the app adds over the model's own.

The offline demo model waits a fixed delay before its first word. A turn is submitted through the
chat service (message and request saved in PostgreSQL, the job handed to the turn runner), and the
clock stops when the first text is readable: (a) in the turn buffer, (b) at the first yield of the
page's batched stream (what `st.write_stream` receives). Overhead = measured - model delay.

Usage: .venv/bin/python bench/ttft_overhead.py [--turns 20] [--delay 0.5]
Runs against a fresh embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from persistence.embedded import stop_embedded_server  # noqa: E402
from services.application import build_application  # noqa: E402
from services.config import Settings  # noqa: E402
from services.views import User  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.5, help="the model's own first-token delay, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            _env_file=None,
            embedded_db_dir=Path(data) / "postgres",
            demo_first_token_delay_seconds=args.delay,
            demo_word_delay_seconds=0.001,
            outbox_dir=Path(data) / "outbox",
            # One user sends every turn here: the per-user rate limit must not be what is measured.
            max_turns_per_minute_per_user=10_000,
        )
        app = build_application(settings)
        try:
            user = User("bench@example.com")
            buffer_ms, page_ms = [], []
            for turn in range(args.turns + 1):  # the first turn warms connections and is dropped
                session = app.chat.create_session(user)
                started = time.perf_counter()
                result = app.chat.submit_message(
                    user, session.id, f"turn {turn}", client_message_id=str(uuid.uuid4())
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
        finally:
            app.close()
            stop_embedded_server(Path(data) / "postgres")
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
