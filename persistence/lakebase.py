"""Lakebase (Databricks' managed PostgreSQL): OAuth credentials as passwords, TLS, reconnects.

A Databricks App with a database resource gets PGHOST, PGUSER, PGDATABASE, PGPORT and PGSSLMODE.
The password is a short-lived OAuth token generated with databricks-sdk for the app's identity:
- Autoscaling: `postgres.generate_database_credential(endpoint=LAKEBASE_ENDPOINT)`
- provisioned: `database.generate_database_credential(instance_names=[LAKEBASE_INSTANCE_NAME])`

The token is cached and refreshed well before it expires (concurrent refreshes wait for one call),
handed to each new connection through SQLAlchemy's `do_connect` event, and never logged. A login
refused with the cached token (rotated early) refreshes it once and tries again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import certifi
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection

from persistence.database import UNRESPONSIVE_SERVER_LIMITS
from persistence.reconnect import check_connections_at_checkout, is_refused_login

if TYPE_CHECKING:  # imported for their types only: the SDK is loaded on first use, never at start-up
    from databricks.sdk import WorkspaceClient

logger = logging.getLogger(__name__)

# Refresh this long before the token expires (tokens live about an hour).
REFRESH_MARGIN_SECONDS = 300
# Replace pooled connections well within a token's lifetime.
POOL_RECYCLE_SECONDS = 1800


@dataclass(frozen=True)
class LakebaseTarget:
    host: str
    port: int
    database: str
    user: str
    sslmode: str
    endpoint: str | None  # Autoscaling endpoint path (projects/.../branches/.../endpoints/...)
    instance_name: str | None  # provisioned instance

    @property
    def description(self) -> str:
        return "Lakebase"  # shown on pages: the host is no business of the app's users


@dataclass(frozen=True)
class Credential:
    token: str
    expires_at: float  # time.time() seconds


def _expiry_seconds(value: Any) -> float:
    """The SDK gives a protobuf-style Timestamp, an ISO string or nothing; assume an hour when unknown."""
    if value is None:
        return time.time() + 3600
    if hasattr(value, "ToDatetime"):
        return float(value.ToDatetime(tzinfo=UTC).timestamp())
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time() + 3600


class LakebaseCredentials:
    """Caches the database token; one refresh at a time, shared by every waiting thread."""

    def __init__(self, target: LakebaseTarget, *, workspace_client: Callable[[], WorkspaceClient]) -> None:
        self._target = target
        self._workspace_client = workspace_client
        self._client: WorkspaceClient | None = None
        self._credential: Credential | None = None
        self._lock = threading.Lock()
        self.refreshes = 0

    def _generate(self) -> Credential:
        if self._client is None:
            self._client = self._workspace_client()
        response: object
        if self._target.endpoint:
            response = self._client.postgres.generate_database_credential(endpoint=self._target.endpoint)
        elif self._target.instance_name:
            response = self._client.database.generate_database_credential(
                instance_names=[self._target.instance_name], request_id=str(uuid.uuid4())
            )
        else:
            raise ValueError("a Lakebase target names an endpoint or an instance")
        token = getattr(response, "token", None)
        if not token:
            raise ValueError("the workspace answered without a database credential")
        # Autoscaling says expire_time, provisioned instances expiration_time.
        expires = getattr(response, "expire_time", None) or getattr(response, "expiration_time", None)
        return Credential(token=token, expires_at=_expiry_seconds(expires))

    def token(self, *, force_refresh: bool = False) -> str:
        seen = self._credential
        with self._lock:
            current = self._credential
            # Another thread refreshed while this one waited: use its token.
            refreshed_meanwhile = current is not None and current is not seen
            stale = current is None or current.expires_at - time.time() < REFRESH_MARGIN_SECONDS
            if stale or (force_refresh and not refreshed_meanwhile):
                self._credential = current = self._generate()
                self.refreshes += 1
                logger.info(
                    "Lakebase credential refreshed (valid for %.0f s)", current.expires_at - time.time()
                )
            assert current is not None
            return current.token


def tls_settings(sslmode: str) -> dict[str, str]:
    """libpq's TLS settings: verify the server's certificate and name unless told not to.

    libpq's "require" encrypts without checking the certificate; Lakebase presents a certificate
    from a public CA, so this app asks for "verify-full" anyway, against the Mozilla CA bundle
    (certifi) rather than libpq's default ~/.postgresql/root.crt, which an app container lacks."""
    if sslmode == "disable":
        return {"sslmode": "disable"}
    return {"sslmode": "verify-full", "sslrootcert": certifi.where()}


def build_lakebase_engine(
    target: LakebaseTarget, credentials: LakebaseCredentials, *, pool_size: int = 30
) -> Engine:
    connect_args: dict[str, Any] = dict(UNRESPONSIVE_SERVER_LIMITS)
    # As in libpq, a host that is a path names the folder of a Unix socket (no TLS there).
    url = URL.create(
        "postgresql+psycopg",
        username=target.user,
        host=target.host,
        port=target.port,
        database=target.database,
    )
    if not target.host.startswith("/"):
        connect_args |= tls_settings(target.sslmode)
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=10,
        # Lakebase scales to zero and drops idle connections: checked at checkout, unless the work
        # is safe to repeat (persistence.reconnect.check_connections_at_checkout).
        pool_pre_ping=False,
        pool_recycle=POOL_RECYCLE_SECONDS,
        hide_parameters=True,
    )

    check_connections_at_checkout(engine)

    @event.listens_for(engine, "do_connect")
    def _connect_with_token(
        dialect: Dialect, connection_record: object, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> DBAPIConnection:
        cparams["password"] = credentials.token()
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            if not is_refused_login(error):
                raise
            # The token was rotated before its stated expiry: get a new one and try once more.
            logger.warning("Lakebase refused the cached credential; refreshing it")
            cparams["password"] = credentials.token(force_refresh=True)
            return dialect.connect(*cargs, **cparams)

    return engine
