"""Which serving endpoints a chat can use, and what each one's task is: the workspace's ready chat
endpoints, listed in the background and cached for a few minutes, so that no page waits on the
workspace. The task decides the wire format a turn speaks (`services.model_clients.wire_formats`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.endpoint_names import is_serving_endpoint_name
from services.model_clients.demo import DEMO_MODEL_NAME
from services.model_clients.wire_formats import CHAT_TASKS

if TYPE_CHECKING:  # imported for their types only: the SDK is loaded on first use, never at start-up
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.serving import ServingEndpoint

logger = logging.getLogger(__name__)

__all__ = ["CHAT_TASKS", "EndpointCatalog", "EndpointChoices"]
CACHE_SECONDS = 300.0
RETRY_AFTER_FAILURE_SECONDS = 60.0
# How long a turn waits for an endpoint's task before speaking chat completions.
TASK_LOOKUP_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class EndpointChoices:
    endpoints: list[str]  # the default first
    note: str | None  # why the list is short, when it is


class EndpointCatalog:
    def __init__(
        self,
        *,
        default_endpoint: str,
        workspace_client: Callable[[], WorkspaceClient] | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`workspace_client` is None when no Databricks workspace is configured (demo model,
        OpenAI-compatible server): then the default endpoint is the only choice."""
        self._default = default_endpoint
        self._workspace_client = workspace_client
        self._clock = clock
        self._lock = threading.Lock()
        self._listed: list[str] | None = None
        self._tasks: dict[str, str | None] = {}  # name -> task, from the list or a lookup of one
        self._lookups: dict[str, threading.Event] = {}  # lookups in flight, by endpoint name
        self._lookup_failed_until: dict[str, float] = {}
        self._note: str | None = "The list of serving endpoints is loading; reload in a moment to see it."
        self._fresh_until = 0.0
        self._refreshing = False
        self._client: WorkspaceClient | None = None

    def choices(self) -> EndpointChoices:
        """The cached choices; starts a background refresh when they are stale. Never blocks."""
        if self._workspace_client is None:
            return EndpointChoices([self._default], None)
        with self._lock:
            stale = self._clock() >= self._fresh_until
            if stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self.refresh, name="endpoint-catalog", daemon=True).start()
            listed, note = self._listed, self._note
        endpoints = [self._default] + [name for name in (listed or []) if name != self._default]
        return EndpointChoices(endpoints, note)

    def allows(self, name: str) -> bool:
        """Whether a chat may send turns to `name`: the configured default, the offline demo, or
        (with a workspace) a name of the right shape that the workspace lists as a ready chat
        endpoint. Lists the endpoints now when they were never listed (turn workers call this)."""
        if name in (self._default, DEMO_MODEL_NAME):
            return True
        if self._workspace_client is None or not is_serving_endpoint_name(name):
            return False
        with self._lock:
            listed = self._listed
        if listed is None:
            self.refresh()
            with self._lock:
                listed = self._listed
        return name in (listed or [])

    def task_of(self, name: str, *, wait_seconds: float = TASK_LOOKUP_WAIT_SECONDS) -> str | None:
        """The endpoint's task, from the cached list, else asked of the workspace (turn workers
        call this, never a page). A turn waits at most `wait_seconds` for the answer: an unreachable
        workspace must not hold a reply up, so it then gets None (chat completions) while the
        lookup finishes in the background for the next turn. A failed lookup is retried after a
        minute."""
        if self._workspace_client is None or not is_serving_endpoint_name(name):
            return None
        with self._lock:
            if name in self._tasks:
                return self._tasks[name]
            if self._clock() < self._lookup_failed_until.get(name, 0.0):
                return None
            lookup = self._lookups.get(name)
            if lookup is None:
                lookup = threading.Event()
                self._lookups[name] = lookup
                threading.Thread(
                    target=self._look_up_task, args=(name, lookup), name="endpoint-task", daemon=True
                ).start()
        lookup.wait(wait_seconds)
        with self._lock:
            return self._tasks.get(name)

    def _look_up_task(self, name: str, done: threading.Event) -> None:
        try:
            if self._client is None:
                self._client = self._workspace_client()  # type: ignore[misc]
            task = self._client.serving_endpoints.get(name).task
        except Exception as error:
            logger.warning("Looking up a serving endpoint's task failed: %s", type(error).__name__)
            with self._lock:
                self._lookup_failed_until[name] = self._clock() + RETRY_AFTER_FAILURE_SECONDS
        else:
            with self._lock:
                self._tasks[name] = task
        finally:
            with self._lock:
                self._lookups.pop(name, None)
            done.set()

    def refresh(self) -> None:
        """List the workspace's endpoints now (the background thread, or a test, calls this)."""
        try:
            if self._client is None:
                self._client = self._workspace_client()  # type: ignore[misc]
            chat_endpoints: dict[str, str | None] = {
                endpoint.name: endpoint.task
                for endpoint in self._client.serving_endpoints.list()
                if endpoint.name is not None
                and is_serving_endpoint_name(endpoint.name)
                and endpoint.task in CHAT_TASKS
                and _is_ready(endpoint)
            }
            names = sorted(chat_endpoints)
        except Exception as error:
            logger.warning("Listing serving endpoints failed: %s", type(error).__name__)
            with self._lock:
                self._note = (
                    "The workspace's serving endpoints could not be listed (no permission, or the "
                    f"workspace is unreachable), so only `{self._default}` is offered. It still works."
                )
                self._fresh_until = self._clock() + RETRY_AFTER_FAILURE_SECONDS
                self._refreshing = False
            return
        with self._lock:
            self._listed = names
            self._tasks.update(chat_endpoints)
            self._note = None
            self._fresh_until = self._clock() + CACHE_SECONDS
            self._refreshing = False


def _is_ready(endpoint: ServingEndpoint) -> bool:
    state = getattr(endpoint, "state", None)
    ready = getattr(state, "ready", None)
    return getattr(ready, "value", ready) == "READY"
