from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace

from services.chat import ChatService
from services.config import Settings
from services.endpoint_catalog import EndpointCatalog
from services.turns import TurnRunner
from services.views import User
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
