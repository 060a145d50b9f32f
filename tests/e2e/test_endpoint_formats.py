"""Each kind of endpoint in a real browser against the real server (issue 10): an agent's tool step
above its reply, retrieved sources under it, a reasoning model's thinking collapsed, and a cut
stream named as such with Retry. Screenshots of each, at desktop and phone sizes, are kept in
.data/screenshots/endpoints/ for a person to look at."""

from __future__ import annotations

import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.test_browser import wait_until_idle
from tests.fakes.serving import TOOL_NAME, VECTOR_INDEX

pytestmark = pytest.mark.e2e

SCREENSHOTS = PROJECT_ROOT / ".data" / "screenshots" / "endpoints"
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def start(streamlit_app, fake_serving, endpoint: str, **settings: str):
    return streamlit_app(
        DATABRICKS_HOST=fake_serving.url,
        DATABRICKS_TOKEN=fake_serving.token,
        LLM_ENDPOINT=endpoint,
        MODEL_TITLES="false",
        **settings,
    )


def ask(browser, app, question: str, size: str):
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    page.goto(f"{app.url}/chat")
    wait_until_idle(page)  # typing into a page still loading can be lost, as in any Streamlit app
    page.get_by_placeholder("Message").fill(question)
    page.keyboard.press("Enter")
    return context, page


def shoot(page, name: str) -> None:
    page.wait_for_timeout(500)  # let an expander finish opening
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_agents_tool_step_and_the_sources_show_around_its_reply(
    streamlit_app, browser, fake_serving, clean_db, size
) -> None:
    app = start(streamlit_app, fake_serving, "agent-responses", VECTOR_SEARCH_INDEX=VECTOR_INDEX)
    context, page = ask(browser, app, "How are travel expenses reimbursed?", size)
    try:
        page.get_by_text("Served reply to: How are travel expenses reimbursed?").wait_for(timeout=30_000)
        step = page.get_by_text(f"{TOOL_NAME} · done")
        step.wait_for(timeout=10_000)
        page.get_by_text("Sources (3)").wait_for(timeout=10_000)
        step.click()
        page.get_by_text("temperature_c").first.wait_for(timeout=10_000)
        page.get_by_text("Sources (3)").click()
        page.get_by_role("link", name="Expenses policy").wait_for(timeout=10_000)
        shoot(page, f"agent-with-sources-{size}")
    finally:
        context.close()


def test_a_reasoning_reply_keeps_its_thinking_collapsed(
    streamlit_app, browser, fake_serving, clean_db
) -> None:
    app = start(streamlit_app, fake_serving, "reasoning")
    context, page = ask(browser, app, "hello", "desktop")
    try:
        try:
            page.get_by_text("Served reply to: hello").wait_for(timeout=30_000)
        except Exception:
            shoot(page, "reasoning-failure")
            raise
        reasoning = page.get_by_text("Reasoning", exact=True)
        reasoning.wait_for(timeout=10_000)
        assert not page.get_by_text("Let me think.").is_visible()  # collapsed
        reasoning.click()
        page.get_by_text("Let me think. The user wants a reply.").wait_for(timeout=10_000)
        assert page.get_by_text("summary_text").count() == 0
        shoot(page, "reasoning-desktop")
    finally:
        context.close()


def test_a_cut_stream_is_named_and_offers_retry(streamlit_app, browser, fake_serving, clean_db) -> None:
    app = start(streamlit_app, fake_serving, "cut-stream")
    context, page = ask(browser, app, "hello", "desktop")
    try:
        try:
            page.get_by_text("the stream was cut off").wait_for(timeout=30_000)
        except Exception:
            shoot(page, "cut-stream-failure")
            raise
        page.get_by_role("button", name="Retry").wait_for(timeout=10_000)
        shoot(page, "cut-stream-desktop")
    finally:
        context.close()
