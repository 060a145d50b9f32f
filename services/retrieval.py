"""Retrieval (RAG) on Databricks Vector Search: the worked example of a TurnExtension.

Each turn queries the index named by VECTOR_SEARCH_INDEX with the user's newest message
(databricks-sdk's `vector_search_indexes.query_index`, a text query, so the index must compute its
own embeddings: a Delta Sync index with an embedding model endpoint, or hybrid search). The best
passages go into the prompt as a numbered system message, within RETRIEVAL_BUDGET_SHARE of the
context budget (older history makes room), and are shown under the reply as its sources.

If the index cannot be queried, the turn goes on without passages: a chat that answers without
sources beats one that does not answer. The log says why, without the query text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from services.config import Settings
from services.context import fit_to_budget
from services.extensions import PreparedPrompt, TurnInput
from services.model_clients.port import PromptMessage
from services.reply_details import MAX_SOURCE_CHARS, Source

logger = logging.getLogger(__name__)

INSTRUCTION = (
    "Use the numbered passages below when they help answer the user's latest message, and cite "
    "them by number, like [1]. If they do not hold the answer, answer from what you know and say "
    "that the passages did not cover it."
)

if TYPE_CHECKING:  # imported for their types only: the SDK is loaded on first use, never at start-up
    from databricks.sdk import WorkspaceClient
QUERY_CHARS = 2_000  # the query is the newest message, cut to a length an embedding model takes


class VectorSearchRetrieval:
    def __init__(self, settings: Settings, *, workspace_client: Callable[[], WorkspaceClient]) -> None:
        if settings.vector_search_index is None:
            raise ValueError("VectorSearchRetrieval needs VECTOR_SEARCH_INDEX")
        self._index = settings.vector_search_index
        self._text_column = settings.vector_search_text_column
        self._title_column = settings.vector_search_title_column
        self._link_column = settings.vector_search_link_column
        self._results = settings.vector_search_results
        self._share = settings.retrieval_budget_share
        self._workspace_client = workspace_client
        self._client: WorkspaceClient | None = None
        self._lock = threading.Lock()

    def _columns(self) -> list[str]:
        columns = [self._text_column, self._title_column]
        if self._link_column:
            columns.append(self._link_column)
        return columns

    def search(self, query: str) -> list[Source]:
        """The index's best passages for `query`. Raises on any failure of the workspace call."""
        with self._lock:
            if self._client is None:
                self._client = self._workspace_client()
        answer = self._client.vector_search_indexes.query_index(
            index_name=self._index,
            columns=self._columns(),
            query_text=query[:QUERY_CHARS],
            num_results=self._results,
        )
        if answer.manifest is None or answer.result is None:
            return []  # an index that found nothing may leave both out
        names = [column.name for column in (answer.manifest.columns or [])]
        sources: list[Source] = []
        for row in answer.result.data_array or []:
            values = dict(zip(names, row, strict=False))
            text = str(values.get(self._text_column) or "").strip()
            if not text:
                continue
            link = values.get(self._link_column) if self._link_column else None
            sources.append(
                Source(
                    title=str(values.get(self._title_column) or "").strip() or f"Passage {len(sources) + 1}",
                    text=text[:MAX_SOURCE_CHARS],
                    link=str(link) if link else None,
                )
            )
        return sources

    def prepare(self, turn: TurnInput) -> PreparedPrompt:
        try:
            found = self.search(turn.question)
        except Exception as error:
            logger.warning(
                "Vector Search query failed (%s); the turn goes on without passages", type(error).__name__
            )
            return PreparedPrompt(turn.prompt)
        budget = int(turn.char_budget * self._share)
        passages: list[Source] = []
        spent = len(INSTRUCTION)
        for source in found:
            cost = len(source.title) + len(source.text) + 10
            if spent + cost > budget:
                break
            passages.append(source)
            spent += cost
        if not passages:
            return PreparedPrompt(turn.prompt)
        numbered = "\n\n".join(
            f"[{number}] {source.title}\n{source.text}" for number, source in enumerate(passages, start=1)
        )
        context = PromptMessage("system", f"{INSTRUCTION}\n\n{numbered}")
        # After the app's own system prompt, before the conversation.
        head = [m for m in turn.prompt[:1] if m.role == "system"]
        prompt = [*head, context, *turn.prompt[len(head) :]]
        return PreparedPrompt(fit_to_budget(prompt, turn.char_budget), tuple(passages))

    def finish(self, turn: TurnInput, reply: str) -> str:
        return reply
