"""Users' ratings of traced replies, sent to the workspace as MLflow assessments in the background.

An agent endpoint asked for its trace (`databricks_options.return_trace`) names the MLflow trace
of each reply; the id is saved with the reply. A thumbs rating of such a reply, and its comment,
then also become a `user_feedback` assessment on that trace (MLflow 3's REST API,
`POST /api/3.0/mlflow/traces/{trace_id}/assessments`, and `PATCH .../{assessment_id}` when the
rating changes), so the agent's owners see it next to the trace. Shape as in Databricks'
`e2e-chatbot-app-next` template.

The database is the queue: a rating is unsent until the workspace took it, so nothing is lost
when the workspace is down or the app restarts. Pages never wait on the workspace.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker

from persistence.database import unit_of_work
from persistence.repositories import TraceRatingRepository

if TYPE_CHECKING:  # imported for their types only: the SDK is loaded on first use, never at start-up
    from databricks.sdk import WorkspaceClient

logger = logging.getLogger(__name__)

ASSESSMENT_NAME = "user_feedback"
SEND_INTERVAL_SECONDS = 2.0
BATCH = 20
# After this many refusals a rating is left alone (the trace is gone, or the app may not write it).
MAX_ATTEMPTS = 8
# Trace ids come from a model's output and go into a URL path: only the shapes MLflow uses.
_TRACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")


def is_trace_id(value: str) -> bool:
    return _TRACE_ID.fullmatch(value) is not None


class TraceFeedbackSender:
    def __init__(
        self,
        *,
        transactions: sessionmaker[Session],
        workspace_client: Callable[[], WorkspaceClient],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transactions = transactions
        self._workspace_client = workspace_client
        self._client: WorkspaceClient | None = None
        self._clock = clock
        self._not_before: dict[int, float] = {}  # feedback id -> when to try again after a failure
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trace-feedback", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(SEND_INTERVAL_SECONDS):
            try:
                self.send_pending()
            except Exception as error:  # the database may be away; the next round tries again
                logger.info("Sending ratings to traces waits (%s)", type(error).__name__)

    def send_pending(self) -> int:
        """Send the ratings not yet sent; returns how many the workspace took."""
        with self._lock:
            with unit_of_work(self._transactions) as db:
                pending = [
                    (
                        row.id,
                        row.user_id,
                        row.rating,
                        row.comment,
                        row.trace_assessment_id,
                        row.updated_at,
                        trace,
                    )
                    for row, trace in TraceRatingRepository(db).unsent(limit=BATCH, max_attempts=MAX_ATTEMPTS)
                ]
            sent = 0
            now = self._clock()
            for feedback_id, user_id, rating, comment, assessment_id, as_of, trace_id in pending:
                if self._not_before.get(feedback_id, 0.0) > now:
                    continue
                try:
                    new_id = self._send(trace_id, user_id, rating, comment, assessment_id)
                except Exception as error:
                    attempts = self._record_failure(feedback_id)
                    # Back off: 2, 4, 8... seconds, at most five minutes.
                    self._not_before[feedback_id] = now + min(300.0, 2.0**attempts)
                    logger.warning(
                        "Sending a rating to its trace failed (attempt %d, %s)",
                        attempts,
                        type(error).__name__,
                    )
                    continue
                self._not_before.pop(feedback_id, None)
                with unit_of_work(self._transactions) as db:
                    TraceRatingRepository(db).mark_sent(feedback_id, as_of=as_of, assessment_id=new_id)
                    db.commit()
                sent += 1
            return sent

    def _record_failure(self, feedback_id: int) -> int:
        with unit_of_work(self._transactions) as db:
            repository = TraceRatingRepository(db)
            repository.count_failure(feedback_id)
            db.commit()
            return repository.attempts(feedback_id, missing=MAX_ATTEMPTS)

    def _send(
        self, trace_id: str, user_id: str, rating: int, comment: str | None, assessment_id: str | None
    ) -> str | None:
        if not is_trace_id(trace_id) or (assessment_id is not None and not is_trace_id(assessment_id)):
            raise ValueError("not a trace or assessment id")
        if self._client is None:
            self._client = self._workspace_client()
        assessment: dict[str, Any] = {
            "trace_id": trace_id,
            "assessment_name": ASSESSMENT_NAME,
            "feedback": {"value": rating == 1},
        }
        if comment:
            assessment["rationale"] = comment
        path = f"/api/3.0/mlflow/traces/{quote(trace_id, safe='')}/assessments"
        if assessment_id is not None:
            self._client.api_client.do(
                "PATCH",
                f"{path}/{quote(assessment_id, safe='')}",
                body={"assessment": assessment, "update_mask": "feedback,rationale"},
            )
            return None
        assessment["source"] = {"source_type": "HUMAN", "source_id": user_id}
        answer = self._client.api_client.do("POST", path, body={"assessment": assessment})
        created = (answer or {}).get("assessment", {}).get("assessment_id")
        return created if isinstance(created, str) else None
