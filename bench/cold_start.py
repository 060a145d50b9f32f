"""Cold start: seconds from launching `python serve.py run Home.py` (start_app.sh's command) to a 200
from /_stcore/health, then to the first page fully served (the first script run, which starts the
embedded database).

Usage: .venv/bin/python bench/cold_start.py [--runs 7] [--bogus-host]
The venv must exist (./start_app.sh or ./run_tests.sh makes it). Each run uses a fresh data folder,
so the embedded PostgreSQL is created from scratch on the first page (the worst case).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            urllib.request.urlopen(url, timeout=1)
            return time.perf_counter()
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer")


def first_page_served(port: int) -> float:
    """When the landing page has been drawn in headless Chromium (Debian's package)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_text("Hello,").wait_for(timeout=60_000)
        done = time.perf_counter()
        browser.close()
    return done


def one_run(with_page: bool, bogus_host: bool) -> tuple[float, float | None]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "LLM_ENDPOINT", "DATABRICKS_HOST"}
        }
        env["EMBEDDED_DB_DIR"] = str(Path(data) / "postgres")
        if bogus_host:
            # A workspace that cannot be resolved: no page may wait on it.
            env.update(
                DATABRICKS_HOST="https://workspace.invalid", DATABRICKS_TOKEN="dapi-x", LLM_ENDPOINT="chat"
            )
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "serve.py", "run", "Home.py", "--server.port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            healthy = wait_for(f"http://127.0.0.1:{port}/_stcore/health") - started
            page = first_page_served(port) - started if with_page else None
        finally:
            process.terminate()
            process.wait(timeout=30)
            from persistence.embedded import stop_embedded_server

            stop_embedded_server(Path(data) / "postgres")
    return healthy, page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bogus-host", action="store_true", help="configure an unreachable DATABRICKS_HOST")
    args = parser.parse_args()
    with_page = Path("/usr/bin/chromium").exists()
    results = [one_run(with_page, args.bogus_host) for _ in range(args.runs)]
    health = [h for h, _ in results]
    print(f"runs: {args.runs}" + (" (DATABRICKS_HOST unreachable)" if args.bogus_host else ""))
    print(
        f"cold start to /_stcore/health: median {statistics.median(health):.2f} s "
        f"(min {min(health):.2f}, max {max(health):.2f})"
    )
    if with_page:
        pages = [p for _, p in results if p is not None]
        print(
            "cold start to first page rendered (fresh embedded database): "
            f"median {statistics.median(pages):.2f} s "
            f"(min {min(pages):.2f}, max {max(pages):.2f})"
        )


if __name__ == "__main__":
    main()
