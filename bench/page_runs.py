"""Server time of one run of the chat page: an empty new chat, and chats of 50 and 500 messages.

Each page is loaded once over Streamlit's websocket protocol (bench/load/streamlit_client.py), then
rerun `--runs` times with nothing changed (as after a click): the time from the rerun request to
`script_finished`, on loopback, is the server's time for the run, and the server process's CPU time
over the reruns, divided by their number, is what the run cost it. The bare Streamlit chat page
(bench/load/bare_chat.py) is timed the same way for reference. Medians and p90 of one invocation;
both servers start as the app ships (serve.py).

    .venv/bin/python bench/page_runs.py [--runs 30]
Writes bench/results/page_runs.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "load"))

from fake_model import FakeModelServer  # noqa: E402
from run_load import Server, environment  # noqa: E402
from sqlalchemy import text  # noqa: E402
from streamlit_client import BrowserTab  # noqa: E402

from persistence.database import build_engine  # noqa: E402
from persistence.embedded import start_embedded_server, stop_embedded_server  # noqa: E402

USER = "page-runs@example.com"


def seed_chat(database_url: str, messages: int) -> uuid.UUID:
    """A chat of `messages` alternating question/reply messages, a paragraph each."""
    session_id = uuid.uuid4()
    paragraph = "A reply of a few sentences, with **some emphasis** and a list:\n\n- one\n- two\n\n" * 2
    engine = build_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO chat_session (id, owner_id, title, message_count) "
                "VALUES (:id, :owner, :title, :n)"
            ),
            {"id": session_id, "owner": USER, "title": f"{messages} messages", "n": messages},
        )
        connection.execute(
            text(
                "INSERT INTO chat_message (session_id, seq, role, content, status, model) "
                "SELECT :id, n, CASE WHEN mod(n, 2) = 1 THEN 'user' ELSE 'assistant' END, "
                "CASE WHEN mod(n, 2) = 1 THEN 'A question number ' || n ELSE :reply END, 'complete', "
                "CASE WHEN mod(n, 2) = 1 THEN NULL ELSE 'bench' END FROM generate_series(1, :n) AS n"
            ),
            {"id": session_id, "n": messages, "reply": paragraph},
        )
    engine.dispose()
    return session_id


async def time_runs(server: Server, page: str, query: str, runs: int) -> tuple[list[float], float]:
    tab = BrowserTab(server.url, headers={"X-Forwarded-Email": USER}, page=page, query=query)
    await tab.open()
    try:
        first = await tab.load()
        if first.error or first.exceptions:
            raise RuntimeError(f"the page failed: {first.error or first.exceptions}")
        durations = []
        cpu_before = server.cpu_seconds()
        for _ in range(runs):
            result = await tab.rerun()
            if result.finished_seconds is None:
                raise RuntimeError(f"a run did not finish: {result.error}")
            durations.append(result.finished_seconds * 1000)
        return durations, 1000 * (server.cpu_seconds() - cpu_before) / runs
    finally:
        await tab.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "page_runs.md")
    arguments = parser.parse_args()
    model = FakeModelServer(first_token_seconds=0.1, tokens_per_second=100, reply_tokens=20)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-page-runs-"))
    app = Server("Home.py", environment(model, data_dir, {}), 8712)
    bare = Server("bench/load/bare_chat.py", environment(model, data_dir, {}), 8713)
    try:
        app.wait_healthy()
        bare.wait_healthy()
        # The app's own embedded server, started (and migrated) by its first page load.
        asyncio.run(time_runs(app, "chat", "", 1))
        database_url = start_embedded_server(data_dir / "postgres").sqlalchemy_url()
        cases = {
            "bare Streamlit chat page (empty)": (bare, "", ""),
            "app: new chat (empty)": (app, "chat", ""),
            "app: chat of 50 messages": (app, "chat", f"session={seed_chat(database_url, 50)}"),
            "app: chat of 500 messages (newest 50 drawn)": (
                app,
                "chat",
                f"session={seed_chat(database_url, 500)}",
            ),
        }
        lines = [
            f"Server time of one page run, {arguments.runs} reruns each (`bench/page_runs.py`):",
            "",
            "| page | median | p90 | server CPU per run |",
            "|---|---:|---:|---:|",
        ]
        for name, (server, page, query) in cases.items():
            durations, cpu_ms = asyncio.run(time_runs(server, page, query, arguments.runs))
            durations.sort()
            p90 = durations[min(len(durations) - 1, round(0.9 * (len(durations) - 1)))]
            line = f"| {name} | {statistics.median(durations):.0f} ms | {p90:.0f} ms | {cpu_ms:.0f} ms |"
            print(line, flush=True)
            lines.append(line)
        arguments.out.write_text("\n".join(lines) + "\n")
        print(f"wrote {arguments.out}")
    finally:
        app.stop()
        bare.stop()
        model.stop()
        stop_embedded_server(data_dir / "postgres")
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
