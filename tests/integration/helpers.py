from __future__ import annotations

import time
import uuid

from services.chat import ChatService
from services.config import Settings
from services.turns import TurnRunner
from services.views import User
from tests.fakes.models import ScriptedModel, ScriptedModels

ALICE = User("alice@example.com")
BOB = User("bob@example.com")


def chat_service(sessions, model: ScriptedModel | None = None, **settings: object) -> ChatService:
    settings.setdefault("model_titles", False)
    config = Settings(_env_file=None, checkpoint_interval_seconds=0.05, **settings)
    models = ScriptedModels(model or ScriptedModel())
    runner = TurnRunner(sessions=sessions, models=models, settings=config)  # type: ignore[arg-type]
    return ChatService(sessions=sessions, runner=runner, models=models, settings=config)  # type: ignore[arg-type]


def wait_for_reply(service: ChatService, user: User, session_id: uuid.UUID, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while service.open_request(user, session_id) is not None:
        if time.monotonic() > deadline:
            raise AssertionError("the reply did not finish in time")
        time.sleep(0.02)
