"""History at scale: p50/p95 of the history page's queries for a heavy user.

Seeds one target user with 10,000 sessions and 200,000 messages among 1,000,000 messages of 100
users, in a fresh embedded PostgreSQL (schema by the app's own migrations), then times 50 runs of:
the first page, a later page (page 50, from its keyset cursor), and a search for a word that
appears in about 1% of messages. Each figure is one service call, as the page makes it.

Usage: .venv/bin/python bench/history.py [--runs 50] [--keep DIR]
  --keep DIR  keep (and on later runs reuse) the seeded database in DIR instead of a temporary one.
Seeding takes a few minutes on 2 cores; a kept database is reused at once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from seed_data import RARE_WORD, TARGET, benchmark_database  # noqa: E402

from persistence.database import session_factory  # noqa: E402
from services.history import HistoryService, SessionFilters  # noqa: E402
from services.views import User  # noqa: E402


def measure(name: str, runs: int, action: Callable[[], object]) -> None:
    action()  # warm the cache and the connection pool
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"{name:<40} p50 {statistics.median(timings):7.1f} ms   p95 {p95:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    with benchmark_database(args.keep) as engine:
        with engine.connect() as connection:
            total = connection.execute(text("SELECT count(*) FROM chat_message")).scalar()
            mine = connection.execute(
                text(
                    "SELECT count(*) FROM chat_message m JOIN chat_session s ON s.id = m.session_id "
                    "WHERE s.owner_id = :t"
                ),
                {"t": TARGET},
            ).scalar()
            rare = connection.execute(
                text("SELECT count(*) FROM chat_message WHERE search_vector @@ to_tsquery('english', :w)"),
                {"w": RARE_WORD},
            ).scalar()
        print(f"messages: {total:,} in all, {mine:,} of the target user; '{RARE_WORD}' in {rare / total:.1%}")
        history = HistoryService(transactions=session_factory(engine))
        user = User(TARGET)
        filters = SessionFilters()
        cursor = None
        for _ in range(49):
            cursor = history.list_page(user, filters, after=cursor).next_cursor
        measure("first page", args.runs, lambda: history.list_page(user, filters))
        measure("page 50 (keyset cursor)", args.runs, lambda: history.list_page(user, filters, after=cursor))
        hits = history.search(user, RARE_WORD, filters)
        print(f"search '{RARE_WORD}' returns {len(hits)} chats (the page shows the best 50)")
        measure(f"search '{RARE_WORD}'", args.runs, lambda: history.search(user, RARE_WORD, filters))


if __name__ == "__main__":
    main()
