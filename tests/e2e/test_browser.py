"""What a person sees in a real browser: the menu on first load, and a chat that survives a restart."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.conftest import app_environment, free_port

pytestmark = pytest.mark.e2e

NAV = '[data-testid="stSidebarNav"]'
EXPECTED_MENU = ["Home", "Chat", "History"]
ADMIN_MENU = [*EXPECTED_MENU, "Admin"]


def menu_labels(page) -> list[str]:
    # One snapshot in the page itself: the menu may be redrawn between two separate look-ups.
    texts = page.eval_on_selector_all(f"{NAV} a", "links => links.map(link => link.innerText)")
    return [text.strip().splitlines()[-1].strip() for text in texts if text.strip()]


def watch_menu(page, url: str, seconds: float = 3.0) -> list[list[str]]:
    """Every distinct menu the page shows from the first paint on, sampled every 20 ms."""
    page.goto(url)
    seen: list[list[str]] = []
    for _ in range(int(seconds / 0.02)):
        labels = menu_labels(page)
        if labels and (not seen or seen[-1] != labels):
            seen.append(labels)
        page.wait_for_timeout(20)
    return seen


@pytest.mark.parametrize("path", ["/", "/chat"])
def test_the_first_load_after_server_start_shows_only_the_real_menu(streamlit_app, page, path) -> None:
    # A folder named pages/ would make Streamlit draw its automatic menu on the first run after
    # the server starts; the app must never show one, not even briefly.
    app = streamlit_app()
    assert watch_menu(page, app.url + path) == [EXPECTED_MENU]


def wait_until_idle(page) -> None:
    """Until the script run is over: Streamlit shows its status widget while a script runs."""
    page.get_by_placeholder("Message").wait_for(timeout=30_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('textarea[disabled]')",
        timeout=30_000,
    )


def test_only_admins_see_the_admin_page_in_the_menu(streamlit_app, page) -> None:
    app = streamlit_app(ADMIN_USERS="developer@localhost")
    assert watch_menu(page, app.url + "/", seconds=1.5)[-1] == ADMIN_MENU
    page.get_by_role("link", name="Admin").click()
    page.get_by_text("Active users, last 30 days").wait_for(timeout=20_000)


def test_a_non_admin_has_no_admin_entry_and_is_refused_by_url(streamlit_app, page) -> None:
    app = streamlit_app(ADMIN_USERS="someone.else@example.com")
    assert watch_menu(page, app.url + "/admin", seconds=1.5)[-1] == EXPECTED_MENU
    page.get_by_text("This page is for the app's admins").wait_for(timeout=20_000)


def send_and_wait(page, text: str) -> None:
    wait_until_idle(page)
    page.get_by_placeholder("Message").fill(text)
    page.keyboard.press("Enter")
    page.get_by_text(f'You wrote: "{text}"').wait_for(timeout=20_000)
    page.get_by_text("first token").last.wait_for(timeout=20_000)


def test_start_chat_stop_start_and_the_chat_is_still_there(page, tmp_path) -> None:
    port = free_port()
    env = app_environment(
        APP_PORT=str(port),
        EMBEDDED_DB_DIR=str(tmp_path / "postgres"),
        DEMO_FIRST_TOKEN_DELAY_SECONDS="0.1",
        DEMO_WORD_DELAY_SECONDS="0.005",
    )

    def script(name: str) -> str:
        done = subprocess.run(
            [f"./{name}"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        assert f"http://localhost:{port}" in script("start_app.sh")
        page.goto(f"http://127.0.0.1:{port}/chat")
        send_and_wait(page, "Remember this after a restart")
        session_url = page.url
        assert "session=" in session_url
        script("stop_app.sh")
        assert not (tmp_path / "postgres" / "postmaster.pid").exists()

        script("start_app.sh")
        page.goto(session_url)
        page.get_by_text('You wrote: "Remember this after a restart"').wait_for(timeout=20_000)
        assert page.get_by_text("Remember this after a restart").count() >= 2  # question, and the title
    except BaseException:
        page.screenshot(path="/tmp/e2e-failure.png")
        raise
    finally:
        subprocess.run(["./stop_app.sh"], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=60)
