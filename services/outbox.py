"""A small local outbox for finished replies the database would not take.

When the database is unreachable as a reply finishes (an outage, a failover), the reply is not
dropped: it is written to a file in OUTBOX_DIR, one file per request, and the turn runner writes it
to the database as soon as the database answers again (checked about once a second), and at
start-up before anything is recovered as interrupted. A file is removed only once its reply is
stored, so a reply survives a restart of the app in between.

The files hold message text: they live on the app's own disk, next to the embedded database's
data, and are deleted as soon as they are stored.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingReply:
    request_id: uuid.UUID
    owner_id: str
    status: str
    text: str
    error_message: str | None
    metrics: dict[str, Any]  # model, prompt/completion tokens, time to first token, latency
    details: dict[str, Any] | None = None  # ReplyDetails.to_json()


class ReplyOutbox:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.Lock()

    def _path(self, request_id: uuid.UUID) -> Path:
        return self._folder / f"{request_id}.json"

    def put(self, reply: PendingReply) -> None:
        """Write the reply durably: a temporary file, flushed to disk, then renamed into place."""
        self._folder.mkdir(parents=True, exist_ok=True)
        document = {
            "request_id": str(reply.request_id),
            "owner_id": reply.owner_id,
            "status": reply.status,
            "text": reply.text,
            "error_message": reply.error_message,
            "metrics": reply.metrics,
            "details": reply.details,
        }
        path = self._path(reply.request_id)
        temporary = path.with_suffix(".tmp")
        with self._lock:
            with temporary.open("w", encoding="utf-8") as file:
                json.dump(document, file, ensure_ascii=False)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(path)
        logger.warning(
            "Reply for request %s kept in the local outbox until the database is back", reply.request_id
        )

    def pending(self) -> list[PendingReply]:
        if not self._folder.is_dir():
            return []
        replies = []
        for path in sorted(self._folder.glob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
                replies.append(
                    PendingReply(
                        request_id=uuid.UUID(document["request_id"]),
                        owner_id=document["owner_id"],
                        status=document["status"],
                        text=document["text"],
                        error_message=document["error_message"],
                        metrics=document["metrics"],
                        details=document.get("details"),  # absent in files from earlier versions
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                logger.error("Unreadable outbox file %s left in place", path.name)
        return replies

    def remove(self, request_id: uuid.UUID) -> None:
        with self._lock:
            self._path(request_id).unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(list(self._folder.glob("*.json"))) if self._folder.is_dir() else 0
