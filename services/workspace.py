"""The Databricks workspace client, built on first use with short timeouts.

`WorkspaceClient()` calls the network as soon as a host is set and by default retries for minutes
on an unreachable host, so nothing builds one at start-up or while drawing a page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.config import Settings

if TYPE_CHECKING:  # imported for their types only: the SDK is loaded on first use, never at start-up
    from databricks.sdk import WorkspaceClient


def workspace_client(settings: Settings) -> WorkspaceClient:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    kwargs: dict[str, Any] = {
        "http_timeout_seconds": settings.databricks_timeout_seconds,
        "retry_timeout_seconds": settings.databricks_timeout_seconds,
    }
    if settings.databricks_host:
        kwargs["host"] = settings.databricks_host
    if settings.databricks_token:
        kwargs["token"] = settings.databricks_token.get_secret_value()
        kwargs["auth_type"] = "pat"
    # Otherwise the SDK's unified auth finds DATABRICKS_CLIENT_ID/SECRET (a Databricks App's service
    # principal) or a profile by itself.
    return WorkspaceClient(config=Config(**kwargs))
