"""Everything process-wide, built once: the engine (with migrations applied), the model clients,
the turn runner and the services. The UI caches one `Application`; tests and scripts build their own."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from persistence.database import session_factory
from persistence.migrate import apply_migrations
from persistence.reconnect import INSUFFICIENT_PRIVILEGE, is_connection_error, retry_on_disconnect, sqlstate
from services.admin import AdminService
from services.chat import ChatService, PageQuery
from services.chat_files import ChatFiles
from services.config import Settings
from services.database import open_database
from services.endpoint_catalog import EndpointCatalog
from services.errors import UserError
from services.extensions import load_extension
from services.feedback import FeedbackService
from services.history import DeletedChatPurger, HistoryService
from services.model_clients.factory import ModelClientFactory
from services.trace_feedback import TraceFeedbackSender
from services.turns import TurnRunner
from services.workspace import workspace_client

logger = logging.getLogger(__name__)


class DatabasePermissionError(UserError):
    """The database refused the app's role what the app needs: its own schema and tables in it."""

    def __init__(self, *, role: str, database: str, schema: str) -> None:
        super().__init__(
            f"The database refused the app permission to create its tables: the role `{role}` may not "
            f"create the schema `{schema}` (or tables in it) in the database `{database}`. "
            f"Give the role CONNECT and CREATE on the database (`GRANT CONNECT, CREATE ON DATABASE "
            f'"{database}" TO "{role}";` as its owner; on Databricks, the app\'s database resource with '
            f"CAN_CONNECT_AND_CREATE), or create the schema `{schema}` with the role as its owner. "
            "Then restart the app."
        )


def report_startup_failure(error: BaseException) -> str:
    """Log why the application could not be built and return what a person is told.

    The log gets the error's type and SQLSTATE only: driver messages can quote statement text.
    """
    logger.error("The application could not start: %s (SQLSTATE %s)", type(error).__name__, sqlstate(error))
    if isinstance(error, UserError):
        return error.user_message
    if is_connection_error(error):
        return (
            "The database could not be reached, so the app cannot start. Check DATABASE_URL (or the "
            "Lakebase resource) and that the server is running, then reload this page."
        )
    return (
        "The app could not prepare its database, so it cannot start. The app's log says which step "
        "failed; fix it and restart the app."
    )


@dataclass
class Application:
    settings: Settings
    engine: Engine
    transactions: sessionmaker[Session]  # opens a database transaction (a SQLAlchemy Session)
    database_description: str
    models: ModelClientFactory
    runner: TurnRunner
    chat: ChatService
    history: HistoryService
    files: ChatFiles
    feedback: FeedbackService
    admin: AdminService
    endpoints: EndpointCatalog
    # Sends ratings of traced replies to MLflow; None without a Databricks workspace.
    trace_feedback: TraceFeedbackSender | None = None
    warm_up: threading.Thread | None = None
    purger: DeletedChatPurger | None = None

    def close(self) -> None:
        """Stop the turns in flight (saved as `interrupted`) and close the database connections."""
        self.runner.shutdown()
        if self.purger is not None:
            self.purger.stop()
        if self.trace_feedback is not None:
            self.trace_feedback.stop()
        if self.warm_up is not None:
            self.warm_up.join(timeout=10)  # its connections go back to the pool before it closes
        self.engine.dispose()


# Loggers that write request and response bodies at DEBUG: those bodies carry OAuth tokens and
# database credentials, so these never go below INFO, whatever LOG_LEVEL says.
_BODY_LOGGERS = ("databricks.sdk", "httpx2", "httpcore2", "openai", "urllib3")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(settings.log_level)))


# Connections opened at start, so the first page runs and turns find them ready (a Lakebase connection
# costs a TLS handshake and a credential; each page run and each turn holds one for a moment).
WARM_CONNECTIONS = 4


# What the warm-up reads a chat page with: the sidebar's chats and one step of messages (the sizes
# do not change the statements, only their parameters).
WARM_UP_PAGE = PageQuery(recent_limit=20, message_limit=50)


def _warm_up(engine: Engine, models: ModelClientFactory, chat: ChatService) -> None:
    """Fill part of the connection pool, prepare the model client and run a turn's statements once
    (ChatService.warm_up), in the background: the first turn after a start should be as quick as the
    next. Failures are left to the first real use."""
    connections = []
    try:
        for _ in range(WARM_CONNECTIONS):  # far below the pool's size (persistence.database)
            connections.append(engine.connect())
    except Exception as error:
        logger.info("Warming up the database pool stopped: %s", type(error).__name__)
    finally:
        for connection in connections:
            connection.close()  # back into the pool, open
    models.warm_up()
    try:
        chat.warm_up(WARM_UP_PAGE)
    except Exception as error:
        logger.info("Warming up a turn's statements stopped: %s", type(error).__name__)


def build_application(settings: Settings) -> Application:
    configure_logging(settings)
    # First: a TURN_EXTENSION that cannot be imported stops start-up before anything is opened.
    extension = load_extension(
        settings, workspace_client=(lambda: workspace_client(settings)) if settings.databricks_host else None
    )
    engine, description = open_database(settings, workspace_client=lambda: workspace_client(settings))
    try:
        retry_on_disconnect(lambda: apply_migrations(engine, schema=settings.database_schema))
    except Exception as error:
        engine.dispose()
        if sqlstate(error) == INSUFFICIENT_PRIVILEGE:
            raise DatabasePermissionError(
                role=engine.url.username or "(the connecting role)",
                database=engine.url.database or "(the default database)",
                schema=settings.database_schema,
            ) from error
        raise
    transactions = session_factory(engine)
    models = ModelClientFactory(settings)
    uses_workspace = bool(settings.databricks_host) and settings.llm_base_url is None and not models.uses_demo
    endpoints = EndpointCatalog(
        default_endpoint=models.default_endpoint,
        workspace_client=(lambda: workspace_client(settings)) if uses_workspace else None,
    )
    runner = TurnRunner(
        transactions=transactions, models=models, endpoints=endpoints, settings=settings, extension=extension
    )
    runner.recover_interrupted()
    trace_feedback = None
    if uses_workspace:
        # Learn the default endpoint's task now, in the background, so the first turn need not.
        endpoints.task_of(models.default_endpoint, wait_seconds=0)
        trace_feedback = TraceFeedbackSender(
            transactions=transactions, workspace_client=lambda: workspace_client(settings)
        )
        trace_feedback.start()
    chat = ChatService(
        transactions=transactions, runner=runner, models=models, endpoints=endpoints, settings=settings
    )
    warm_up = threading.Thread(target=_warm_up, args=(engine, models, chat), name="warm-up", daemon=True)
    warm_up.start()
    history = HistoryService(transactions=transactions)
    purger = DeletedChatPurger(history)
    purger.start()
    return Application(
        settings=settings,
        engine=engine,
        transactions=transactions,
        database_description=description,
        models=models,
        runner=runner,
        chat=chat,
        history=history,
        files=ChatFiles(transactions=transactions, endpoint_allowed=endpoints.allows),
        feedback=FeedbackService(transactions=transactions),
        admin=AdminService(transactions=transactions),
        endpoints=endpoints,
        trace_feedback=trace_feedback,
        warm_up=warm_up,
        purger=purger,
    )
