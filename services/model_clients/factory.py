"""Which model client runs, decided from settings alone: no network call happens here."""

from __future__ import annotations

from services.config import Settings
from services.model_clients.demo import DEMO_MODEL_NAME, DemoModelClient
from services.model_clients.openai_compatible import (
    DatabricksServingClient,
    DatabricksTokenProvider,
    OpenAICompatibleClient,
    Timeouts,
)
from services.model_clients.port import ModelClient


class ModelClientFactory:
    """Process-wide: holds one client per kind, each reusing its HTTP connection pool."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        timeouts = Timeouts(
            connect=settings.llm_connect_timeout_seconds,
            first_token=settings.llm_first_token_timeout_seconds,
            total=settings.llm_total_timeout_seconds,
        )
        self._demo = DemoModelClient(
            first_token_delay_seconds=settings.demo_first_token_delay_seconds,
            word_delay_seconds=settings.demo_word_delay_seconds,
        )
        self._remote: ModelClient | None = None
        if settings.llm_endpoint is None:
            return
        if settings.llm_base_url is not None:
            api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            self._remote = OpenAICompatibleClient(
                base_url=settings.llm_base_url, api_key=api_key, timeouts=timeouts
            )
        elif settings.databricks_host is not None:
            token = settings.databricks_token.get_secret_value() if settings.databricks_token else None
            provider = DatabricksTokenProvider(
                host=settings.databricks_host,
                token=token,
                timeout_seconds=settings.databricks_timeout_seconds,
            )
            self._remote = DatabricksServingClient(
                host=settings.databricks_host, token_provider=provider, timeouts=timeouts
            )

    @property
    def uses_demo(self) -> bool:
        return self._remote is None

    @property
    def default_endpoint(self) -> str:
        if self._remote is None or self._settings.llm_endpoint is None:
            return DEMO_MODEL_NAME
        return self._settings.llm_endpoint

    @property
    def default_label(self) -> str:
        return self.client_for(self.default_endpoint).label

    def client_for(self, endpoint: str | None) -> ModelClient:
        if endpoint is None or endpoint == DEMO_MODEL_NAME or self._remote is None:
            return self._demo
        return self._remote

    def warm_up(self) -> None:
        """Whatever the remote client can prepare before its first turn (see its `warm_up`)."""
        if isinstance(self._remote, DatabricksServingClient):
            self._remote.warm_up()

    def configuration_hint(self) -> str | None:
        """Why the demo model is in use, when settings look half-done."""
        settings = self._settings
        if self._remote is not None:
            return None
        if (settings.databricks_host or settings.llm_base_url) and settings.llm_endpoint is None:
            return "A model host is set but LLM_ENDPOINT is not: set it to the endpoint or model name."
        return None
