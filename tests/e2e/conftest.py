"""End-to-end tests: the real app server, driven in headless Chromium (Debian's package) by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

SERVER_LOGS = PROJECT_ROOT / ".data" / "e2e-server-logs"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the app on port {port} did not become healthy")


def app_environment(**values: str) -> dict[str, str]:
    """The machine's environment without any app setting, plus `values`."""
    from services.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("DATABRICKS_")}
    env.update(values)
    return env


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (run_tests.sh installs Debian's chromium when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


class RunningApp:
    def __init__(self, port: int, process: subprocess.Popen) -> None:
        self.port = port
        self.process = process
        self.url = f"http://127.0.0.1:{port}"


def _stop(app: RunningApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()


# The server one size of a test started, kept for its other sizes: the variants of a test that is
# parametrized by `size` run one after another with the same settings, so they share one server
# (a start is a few seconds; the database is emptied between them as for every test).
_shared: dict[str, object] = {}


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_server() -> Iterator[None]:
    yield
    if _shared:
        _stop(_shared.pop("app"))  # type: ignore[arg-type]


@pytest.fixture
def streamlit_app(database_url: str, request: pytest.FixtureRequest) -> Iterator[callable]:
    """Start `python serve.py run Home.py` (as start_app.sh does) on a free port against the test
    database; stopped afterwards (or, for a test parametrized by `size`, once its last size has run)."""
    started: list[RunningApp] = []
    by_size = "size" in getattr(getattr(request.node, "callspec", None), "params", {})

    def _start(**settings: str) -> RunningApp:
        key = (request.node.nodeid.split("[")[0], tuple(sorted(settings.items())))
        if by_size and _shared.get("key") == key and _shared["app"].process.poll() is None:  # type: ignore[union-attr]
            return _shared["app"]  # type: ignore[return-value]
        if _shared:
            _stop(_shared.pop("app"))  # type: ignore[arg-type]
            _shared.clear()
        port = free_port()
        fast_demo = {"DEMO_FIRST_TOKEN_DELAY_SECONDS": "0.1", "DEMO_WORD_DELAY_SECONDS": "0.005"}
        env = app_environment(
            DATABASE_URL=database_url.replace("postgresql+psycopg", "postgresql"), **(fast_demo | settings)
        )
        SERVER_LOGS.mkdir(parents=True, exist_ok=True)
        log = (SERVER_LOGS / f"{port}.log").open("w")  # kept for reading a failed test
        process = subprocess.Popen(
            [sys.executable, "serve.py", "run", "Home.py", "--server.port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the server has its own copy of the file
        app = RunningApp(port, process)
        if by_size:
            _shared.update(key=key, app=app)
        else:
            started.append(app)
        wait_for_health(port)
        return app

    yield _start
    for app in started:
        _stop(app)
