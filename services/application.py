"""Everything process-wide, built once: the engine (with migrations applied), the model clients,
the turn runner and the services. The UI caches one `Application`; tests and scripts build their own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from persistence.database import build_engine, resolve_database_target, session_factory
from persistence.migrate import apply_migrations
from services.admin import AdminService
from services.chat import ChatService
from services.config import Settings
from services.feedback import FeedbackService
from services.history import HistoryService
from services.model_clients.factory import ModelClientFactory
from services.turns import TurnRunner

logger = logging.getLogger(__name__)


@dataclass
class Application:
    settings: Settings
    engine: Engine
    database_description: str
    models: ModelClientFactory
    runner: TurnRunner
    chat: ChatService
    history: HistoryService
    feedback: FeedbackService
    admin: AdminService

    def close(self) -> None:
        """Stop the turns in flight (saved as `interrupted`) and close the database connections."""
        self.runner.shutdown()
        self.engine.dispose()


def build_application(settings: Settings, *, database_url: str | None = None) -> Application:
    if database_url is None:
        target = resolve_database_target(settings)
        database_url, description = target.url, target.description
    else:
        description = "PostgreSQL (given)"
    engine = build_engine(database_url)
    apply_migrations(engine)
    sessions = session_factory(engine)
    models = ModelClientFactory(settings)
    runner = TurnRunner(sessions=sessions, models=models, settings=settings)
    runner.recover_interrupted()
    chat = ChatService(sessions=sessions, runner=runner, models=models, settings=settings)
    return Application(
        settings=settings,
        engine=engine,
        database_description=description,
        models=models,
        runner=runner,
        chat=chat,
        history=HistoryService(sessions=sessions),
        feedback=FeedbackService(sessions=sessions),
        admin=AdminService(sessions=sessions),
    )
