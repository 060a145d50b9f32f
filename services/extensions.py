"""The one place to customize a turn without forking the app: a `TurnExtension`.

The turn runner calls `prepare` once the prompt is built (system prompt, then the newest messages
that fit the context budget) and before the model is called, and `finish` on the whole reply once
it is complete. `prepare` may change the prompt (pre-processing, retrieval, instructions of your
own) and name sources, which are shown under the reply and saved with it. `finish` may change the
stored reply (post-processing: redaction, a footer); the text streamed to the page is the model's.

Configure one with `TURN_EXTENSION=package.module:factory`, where `factory(settings)` returns the
extension. Without it, `VECTOR_SEARCH_INDEX` turns on the built-in retrieval (services.retrieval),
the worked example. The README's Customize section shows a small one.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from services.config import Settings
from services.errors import UserError
from services.model_clients.port import PromptMessage
from services.reply_details import Source

if TYPE_CHECKING:  # imported for their types only: the SDK is loaded on first use, never at start-up
    from databricks.sdk import WorkspaceClient


@dataclass(frozen=True)
class TurnInput:
    """What a turn is about: read-only for extensions."""

    user: str  # the signed-in user's email
    session_id: uuid.UUID
    question: str  # the user's newest message
    endpoint: str
    prompt: list[PromptMessage]  # what the model would be sent: system prompt, then history
    char_budget: int  # CONTEXT_CHAR_BUDGET: what the whole prompt should stay within


@dataclass(frozen=True)
class PreparedPrompt:
    prompt: list[PromptMessage]
    sources: tuple[Source, ...] = ()


class TurnExtension(Protocol):
    def prepare(self, turn: TurnInput) -> PreparedPrompt:
        """The prompt to send, and the sources to show under the reply. Runs in a turn worker
        thread, never on a page, so it may call other services (within reason: the user waits)."""
        ...

    def finish(self, turn: TurnInput, reply: str) -> str:
        """The reply text to store, given the complete reply the model wrote."""
        ...


class NoExtension:
    """The default: the prompt as built, the reply as written."""

    def prepare(self, turn: TurnInput) -> PreparedPrompt:
        return PreparedPrompt(turn.prompt)

    def finish(self, turn: TurnInput, reply: str) -> str:
        return reply


class ExtensionNotFound(UserError):
    """TURN_EXTENSION names a factory that cannot be imported: start-up stops and says so."""


def load_extension(
    settings: Settings, *, workspace_client: Callable[[], WorkspaceClient] | None
) -> TurnExtension:
    """The configured extension; a factory that cannot be imported stops start-up, naming the setting."""
    if settings.turn_extension is not None:
        module_name, _, factory_name = settings.turn_extension.partition(":")
        try:
            factory: Callable[[Settings], TurnExtension] = getattr(
                importlib.import_module(module_name), factory_name
            )
        except (ImportError, AttributeError) as error:
            raise ExtensionNotFound(
                f"TURN_EXTENSION is set to `{settings.turn_extension}`, but that factory could not be "
                f"imported ({type(error).__name__}). Check the module path and the function name, or "
                "unset TURN_EXTENSION, then restart the app."
            ) from error
        return factory(settings)
    if settings.vector_search_index is not None and workspace_client is not None:
        from services.retrieval import VectorSearchRetrieval

        return VectorSearchRetrieval(settings, workspace_client=workspace_client)
    return NoExtension()
