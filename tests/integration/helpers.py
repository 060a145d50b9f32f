from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event, text

from persistence.database import unit_of_work
from services.application import build_application
from services.chat import ChatService
from services.config import Settings
from services.endpoint_catalog import EndpointCatalog
from services.turns import TurnRunner
from services.views import MessageView, User
from tests.fakes.models import ScriptedModel, ScriptedModels

ALICE = User("alice@example.com")
BOB = User("bob@example.com")


# The ready chat endpoints the stand-in workspace lists, besides the scripted default.
LISTED_ENDPOINTS = ("my-endpoint", "other-endpoint")


def listing_workspace(names: tuple[str, ...] = LISTED_ENDPOINTS) -> SimpleNamespace:
    """What EndpointCatalog reads from a workspace client: `serving_endpoints.list()`."""
    ready = SimpleNamespace(ready="READY")
    listed = [SimpleNamespace(name=name, task="llm/v1/chat", state=ready) for name in names]
    return SimpleNamespace(serving_endpoints=SimpleNamespace(list=lambda: listed))


def chat_service(sessions, model: ScriptedModel | None = None, **settings: object) -> ChatService:
    settings.setdefault("model_titles", False)
    settings.setdefault("outbox_dir", tempfile.mkdtemp(prefix="outbox-"))
    config = Settings(_env_file=None, checkpoint_interval_seconds=0.05, **settings)
    models = ScriptedModels(model or ScriptedModel())
    endpoints = EndpointCatalog(default_endpoint=models.default_endpoint, workspace_client=listing_workspace)
    runner = TurnRunner(transactions=sessions, models=models, endpoints=endpoints, settings=config)  # type: ignore[arg-type]
    return ChatService(
        transactions=sessions,
        runner=runner,
        models=models,  # type: ignore[arg-type]
        endpoints=endpoints,
        settings=config,
    )


def wait_for_reply(service: ChatService, user: User, session_id: uuid.UUID, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while service.open_request(user, session_id) is not None:
        if time.monotonic() > deadline:
            raise AssertionError("the reply did not finish in time")
        time.sleep(0.02)


def wait_until(
    condition: Callable[[], object], *, timeout: float = 10.0, what: str = "the condition"
) -> None:
    """Wait for `condition` to hold, checking every 10 ms: tests wait on what they need, never
    on a fixed time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout:.0f} s")
        time.sleep(0.01)


def one_turn(user: User, question: str = "hello") -> MessageView:
    """Build the application from the environment, let `user` send one message, and return the
    stored reply once the turn is over (the application is closed again)."""
    app = build_application(Settings(_env_file=None))
    try:
        session = app.chat.create_session(user)
        app.chat.submit_message(user, session.id, question, client_message_id=str(uuid.uuid4()))
        wait_for_reply(app.chat, user, session.id)
        return app.chat.messages(user, session.id)[-1]
    finally:
        app.close()


def use_fake_workspace(app_env: Any, fake_serving: Any, endpoint: str = "chat") -> None:
    """Point the app's settings at the fake workspace and one of its endpoints, titles off."""
    app_env.setenv("DATABRICKS_HOST", fake_serving.url)
    app_env.setenv("DATABRICKS_TOKEN", fake_serving.token)
    app_env.setenv("LLM_ENDPOINT", endpoint)
    app_env.setenv("MODEL_TITLES", "false")
    fake_serving.requests.clear()


def leave_as_a_dead_process_would(sessions, request_id: uuid.UUID, partial_text: str) -> None:
    """Make an open request look like one whose process died an hour ago: streaming, with a
    checkpoint of `partial_text`, silent since."""
    with unit_of_work(sessions) as db:
        db.execute(
            text(
                "UPDATE chat_request SET status='streaming', partial_text=:partial, "
                "created_at=now()-interval '1 hour', started_at=now()-interval '1 hour', "
                "checkpointed_at=now()-interval '1 hour' WHERE id=:id"
            ),
            {"id": request_id, "partial": partial_text},
        )
        db.commit()


@contextmanager
def checkouts_by_this_thread(sessions) -> Iterator[list[object]]:
    """The connections this thread takes from the pool while the block runs (other threads, such as
    the turn runner's, are not counted)."""
    this_thread = threading.get_ident()
    checkouts: list[object] = []

    def on_checkout(dbapi_connection, record, proxy) -> None:
        if threading.get_ident() == this_thread:
            checkouts.append(dbapi_connection)

    pool = sessions.kw["bind"].pool
    event.listen(pool, "checkout", on_checkout)
    try:
        yield checkouts
    finally:
        event.remove(pool, "checkout", on_checkout)
