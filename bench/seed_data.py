"""The data set shared by the benchmarks: 1,000,000 messages of 100 users, one of them heavy.

A target user has 10,000 sessions and 200,000 messages; the other 99 share 10,000 sessions of 80
messages. Sessions spread over the past year, messages follow their session's start a minute apart.
A rare word sits in about 1% of messages; about 2% of replies are rated (a quarter thumbs down).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from persistence.database import build_engine
from persistence.embedded import start_embedded_server, stop_embedded_server
from persistence.migrate import apply_migrations

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


def seed(engine: Engine) -> None:
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
                    SELECT id, owner_id, created_at, row_number() OVER (ORDER BY created_at, id) AS n,
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
                       'complete', s.created_at + m * interval '1 minute'
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
        # Replies get a model, tokens and timings; one in 50 fails; 2% are rated.
        connection.execute(
            text(
                """
                UPDATE chat_message m SET
                    model = s.model_endpoint,
                    prompt_tokens = 50 + mod(m.id, 400),
                    completion_tokens = 20 + mod(m.id * 7, 300),
                    time_to_first_token_ms = 150 + mod(m.id * 13, 900),
                    latency_ms = 800 + mod(m.id * 17, 6000),
                    status = CASE WHEN mod(m.id, 50) = 0 THEN 'error' ELSE 'complete' END
                FROM chat_session s
                WHERE s.id = m.session_id AND m.role = 'assistant'
                """
            )
        )
        connection.execute(
            text(
                """
                INSERT INTO feedback (message_id, user_id, rating, comment, created_at, updated_at)
                SELECT m.id, s.owner_id, CASE WHEN mod(m.id, 4) = 0 THEN -1 ELSE 1 END,
                       CASE WHEN mod(m.id, 4) = 0 THEN 'not what I asked' END, m.created_at, m.created_at
                FROM chat_message m JOIN chat_session s ON s.id = m.session_id
                WHERE m.role = 'assistant' AND mod(m.id, 50) = 1
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


@contextmanager
def benchmark_database(keep: Path | None) -> Iterator[Engine]:
    """An embedded PostgreSQL with the app's schema and the data set: in a temporary folder, or
    in `keep`, seeded there once and reused by later runs. Stopped afterwards."""
    temporary = None
    if keep is None:
        temporary = tempfile.TemporaryDirectory()
        data_dir = Path(temporary.name) / "postgres"
    else:
        data_dir = keep.resolve()
    server = start_embedded_server(data_dir)
    engine = build_engine(server.sqlalchemy_url(), maintenance=True)
    try:
        apply_migrations(engine)
        with engine.connect() as connection:
            seeded = connection.execute(text("SELECT count(*) FROM chat_message")).scalar()
        if seeded < TOTAL_MESSAGES:
            seed(engine)
        yield engine
    finally:
        engine.dispose()
        stop_embedded_server(data_dir)
        if temporary is not None:
            temporary.cleanup()
