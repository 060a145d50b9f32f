"""The application on a throwaway embedded PostgreSQL, for the in-process benchmarks."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from persistence.embedded import stop_embedded_server  # noqa: E402
from services.application import Application, build_application  # noqa: E402
from services.config import Settings  # noqa: E402


@contextmanager
def throwaway_application(**settings: Any) -> Iterator[Application]:
    """An Application with the offline demo model, on an embedded PostgreSQL in a temporary folder
    that is stopped and removed afterwards. `settings` override the defaults (model delays...)."""
    with tempfile.TemporaryDirectory() as data:
        app = build_application(
            Settings(
                _env_file=None,
                embedded_db_dir=Path(data) / "postgres",
                outbox_dir=Path(data) / "outbox",
                # One user sends every turn: the per-user rate limit must not be what is measured.
                max_turns_per_minute_per_user=10_000,
                **settings,
            )
        )
        try:
            yield app
        finally:
            app.close()
            stop_embedded_server(Path(data) / "postgres")
