"""Everything process-wide, built once: the engine (with migrations applied), the model clients,
the turn runner and the services. The UI caches one `Application`; tests and scripts build their own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from persistence.database import open_database, session_factory
from persistence.migrate import apply_migrations
from persistence.reconnect import retry_on_disconnect
from services.admin import AdminService
from services.chat import ChatService
from services.config import Settings
from services.endpoint_catalog import EndpointCatalog
from services.feedback import FeedbackService
from services.history import HistoryService
from services.model_clients.factory import ModelClientFactory
from services.turns import TurnRunner
from services.workspace import workspace_client

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
    endpoints: EndpointCatalog

    def close(self) -> None:
        """Stop the turns in flight (saved as `interrupted`) and close the database connections."""
        self.runner.shutdown()
        self.engine.dispose()


# Loggers that write request and response bodies at DEBUG: those bodies carry OAuth tokens and
# database credentials, so these never go below INFO, whatever LOG_LEVEL says.
_BODY_LOGGERS = ("databricks.sdk", "httpx2", "httpcore2", "openai", "urllib3")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(settings.log_level)))


def build_application(settings: Settings) -> Application:
    configure_logging(settings)
    engine, description = open_database(settings, workspace_client=lambda: workspace_client(settings))
    retry_on_disconnect(lambda: apply_migrations(engine))
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
        endpoints=EndpointCatalog(
            default_endpoint=models.default_endpoint,
            workspace_client=(
                (lambda: workspace_client(settings))
                if settings.databricks_host and settings.llm_base_url is None and not models.uses_demo
                else None
            ),
        ),
    )
