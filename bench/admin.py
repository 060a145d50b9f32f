"""The admin page's queries at scale: all of them together, for a 30-day range, p50/p95 of 50 runs.

Uses the shared data set (bench/seed_data.py: 1,000,000 messages of 100 users over a year), seeded
into a fresh embedded PostgreSQL, or reused with --keep DIR (the same folder bench/history.py uses).
One run = what the admin page asks the database for: totals, active users, per-day figures,
per-model figures with percentiles, top users, recent thumbs-down replies and the audit log.
The page caches these for a minute; this measures them uncached.

Usage: .venv/bin/python bench/admin.py [--runs 50] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from seed_data import benchmark_database  # noqa: E402

from persistence.database import session_factory  # noqa: E402
from services.admin import AdminService  # noqa: E402
from services.views import User  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    with benchmark_database(args.keep) as engine:
        admin = AdminService(transactions=session_factory(engine))
        user = User("admin@example.com", is_admin=True)
        end = datetime.now(UTC).date()
        start = end - timedelta(days=29)

        def page_queries() -> None:
            admin.usage(user, start, end)
            admin.recent_thumbs_down(user)
            admin.audit_log(user)

        report = admin.usage(user, start, end)
        totals = report.totals
        print(
            f"30-day window: {totals.user_messages:,} messages, {totals.sessions:,} sessions, "
            f"{totals.active_users} active users, {len(report.models)} models, {len(report.daily)} days"
        )
        page_queries()  # warm up
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            page_queries()
            timings.append((time.perf_counter() - started) * 1000)
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(f"admin page queries, all together: p50 {statistics.median(timings):.0f} ms   p95 {p95:.0f} ms")


if __name__ == "__main__":
    main()
