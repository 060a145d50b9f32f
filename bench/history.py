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
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from persistence.database import build_engine, session_factory  # noqa: E402
from persistence.embedded import start_embedded_server, stop_embedded_server  # noqa: E402
from persistence.migrate import apply_migrations  # noqa: E402
from services.history import HistoryService, SessionFilters  # noqa: E402
from services.views import User  # noqa: E402

TARGET = "target@example.com"
USERS = 100
TOTAL_MESSAGES = 1_000_000
TARGET_SESSIONS = 10_000
TARGET_MESSAGES_PER_SESSION = 20  # 200,000 messages
OTHER_SESSIONS = 10_000  # about 101 for each of the 99 other users, 80 messages each
RARE_WORD = "kayak"  # in every 100th message: about 1%

# A few hundred ordinary words; messages are 12 of them, picked by a hash of the message number.
VOCABULARY = """
time person year way day thing man world life hand part child eye woman place work week case
point government company number group problem fact data table query model answer question river
mountain city garden kitchen window paper letter music movie story travel budget report meeting
project plan design system network server client cloud storage memory process thread engine
database index search history session message reply token stream prompt summary review feature
release version update issue market price customer order product service support team manager
office email phone call schedule morning evening night summer winter spring autumn weather rain
snow wind sun moon star ocean island forest lake field road bridge car train plane ticket hotel
room dinner lunch coffee tea bread cheese apple orange banana tomato potato recipe oven salt
sugar pepper doctor health sleep exercise walk run swim bike book chapter page word sentence
language grammar school teacher student lesson exam score
""".split()  # noqa: SIM905 - a paragraph of words reads better than a list


def seed(engine) -> None:  # noqa: ANN001 - an Engine
    words = "ARRAY[" + ",".join(f"'{w}'" for w in VOCABULARY) + "]"
    n = len(VOCABULARY)
    other_messages = TOTAL_MESSAGES - TARGET_SESSIONS * TARGET_MESSAGES_PER_SESSION
    other_sessions = OTHER_SESSIONS
    per_other_session = other_messages // other_sessions
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE chat_message SET (autovacuum_enabled = false)"))
        # Sessions: the target's 10,000 spread over a year; the others' shared among 99 users.
        connection.execute(
            text(
                """
                INSERT INTO chat_session (id, owner_id, title, model_endpoint, created_at, updated_at)
                SELECT gen_random_uuid(),
                       CASE WHEN g <= :target_sessions THEN :target
                            ELSE 'user' || mod(g, 99) || '@example.com' END,
                       'Chat number ' || g,
                       CASE mod(g, 3) WHEN 0 THEN 'model-a' WHEN 1 THEN 'model-b' ELSE 'model-c' END,
                       now() - mod(g, 365) * interval '1 day' - mod(g, 86400) * interval '1 second',
                       now() - mod(g, 365) * interval '1 day' + mod(g, 86400) * interval '1 second'
                FROM generate_series(1, :all_sessions) AS g
                """
            ),
            {
                "target": TARGET,
                "target_sessions": TARGET_SESSIONS,
                "all_sessions": TARGET_SESSIONS + other_sessions,
            },
        )
        connection.execute(
            text(
                f"""
                WITH numbered AS (
                    SELECT id, owner_id, row_number() OVER (ORDER BY created_at, id) AS n,
                           CASE WHEN owner_id = :target THEN CAST(:per_target AS integer)
                                ELSE CAST(:per_other AS integer) END AS messages
                    FROM chat_session
                )
                INSERT INTO chat_message (session_id, seq, role, content, status, created_at)
                SELECT s.id, m, CASE WHEN mod(m, 2) = 1 THEN 'user' ELSE 'assistant' END,
                       array_to_string(ARRAY(
                           SELECT ({words})[1 + mod(s.n * 7919 + m * 104729 + k * 31337, {n})]
                           FROM generate_series(1, 12) AS k
                       ), ' ') || CASE WHEN mod(s.n * 31 + m, 100) = 0 THEN ' {RARE_WORD}' ELSE '' END,
                       'complete', now()
                FROM numbered s, generate_series(1, s.messages) AS m
                """
            ),
            {"target": TARGET, "per_target": TARGET_MESSAGES_PER_SESSION, "per_other": per_other_session},
        )
        connection.execute(
            text(
                """
                UPDATE chat_session s SET message_count = c.n, last_message_preview = left(last.content, 200)
                FROM (
                    SELECT session_id, count(*) AS n, max(seq) AS last_seq
                    FROM chat_message GROUP BY session_id
                ) c
                JOIN chat_message last ON last.session_id = c.session_id AND last.seq = c.last_seq
                WHERE s.id = c.session_id
                """
            )
        )
        connection.execute(text("ALTER TABLE chat_message SET (autovacuum_enabled = true)"))
    # VACUUM refuses to run in a transaction: use the driver's connection in autocommit mode.
    raw = engine.raw_connection()
    try:
        raw.rollback()  # the pool's ping may have opened a transaction
        raw.driver_connection.autocommit = True
        raw.driver_connection.run("VACUUM ANALYZE")
    finally:
        raw.driver_connection.autocommit = False
        raw.close()
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


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
    temporary = None
    if args.keep is None:
        temporary = tempfile.TemporaryDirectory()
        data_dir = Path(temporary.name) / "postgres"
    else:
        data_dir = args.keep.resolve()
    server = start_embedded_server(data_dir)
    engine = build_engine(server.sqlalchemy_url())
    try:
        apply_migrations(engine)
        with engine.connect() as connection:
            seeded = connection.execute(text("SELECT count(*) FROM chat_message")).scalar()
        if seeded < TOTAL_MESSAGES:
            seed(engine)
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
        history = HistoryService(sessions=session_factory(engine))
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
    finally:
        engine.dispose()
        stop_embedded_server(data_dir)
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
