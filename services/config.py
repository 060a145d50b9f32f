"""The app's one settings object: read from the environment and `.env`, validated once.

Nothing else in the project reads `os.environ`. A bad value stops start-up with a message that
names the setting (see `describe_settings_error`).
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from persistence.schema import DEFAULT_SCHEMA
from services.endpoint_names import is_serving_endpoint_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting the app understands. `.env.example` documents each one; a test keeps them in step."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"

    # Databricks workspace. Any other databricks-sdk auth (DATABRICKS_CLIENT_ID/SECRET, a profile)
    # is read by the SDK itself when DATABRICKS_TOKEN is not set.
    databricks_host: str | None = None
    databricks_token: SecretStr | None = None
    databricks_app_name: str | None = None
    databricks_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    # Database. Unset: an embedded PostgreSQL under EMBEDDED_DB_DIR.
    database_url: SecretStr | None = None
    embedded_db_dir: Path = Path(".data/postgres")
    # Replies finished while the database was unreachable wait here until it is back.
    outbox_dir: Path = Path(".data/outbox")
    # The PostgreSQL schema the app creates, owns and keeps all of its tables in (never `public`:
    # on Lakebase the app's role may create schemas in its database but not objects in `public`).
    database_schema: str = DEFAULT_SCHEMA
    # Lakebase, as a Databricks App's database resource provides it. The password is an OAuth
    # token generated for LAKEBASE_ENDPOINT (Autoscaling) or LAKEBASE_INSTANCE_NAME (provisioned).
    pghost: str | None = None
    pgport: int = Field(default=5432, ge=1, le=65535)
    pgdatabase: str = "databricks_postgres"
    pguser: str | None = None
    pgsslmode: str = "require"
    lakebase_endpoint: str | None = None
    lakebase_instance_name: str | None = None

    # Model.
    llm_endpoint: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(default=1024, ge=1, le=200_000)
    system_prompt: str = "You are a helpful assistant. Answer clearly and concisely."
    llm_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    llm_first_token_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    llm_total_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    demo_first_token_delay_seconds: float = Field(default=0.4, ge=0, le=30)
    demo_word_delay_seconds: float = Field(default=0.03, ge=0, le=5)

    # Chat behaviour.
    max_message_chars: int = Field(default=20_000, ge=1, le=1_000_000)
    context_char_budget: int = Field(default=48_000, ge=1_000, le=4_000_000)
    # Replies are waits on the model, not work: many run at once in one process.
    turn_workers: int = Field(default=32, ge=1, le=128)
    checkpoint_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    model_titles: bool = True
    # Per-user limits, enforced in the database before any model call (they hold across instances).
    max_concurrent_turns_per_user: int = Field(default=2, ge=1, le=64)
    max_turns_per_minute_per_user: int = Field(default=20, ge=1, le=10_000)

    # Customizing a turn (see the README's Customize section). TURN_EXTENSION names a factory,
    # `package.module:function`, that takes the settings and returns a TurnExtension. Without it,
    # setting VECTOR_SEARCH_INDEX turns on the built-in retrieval from that index.
    turn_extension: str | None = None
    vector_search_index: str | None = None
    vector_search_text_column: str = "text"
    vector_search_title_column: str = "title"
    vector_search_link_column: str | None = "url"
    vector_search_results: int = Field(default=4, ge=1, le=20)
    # The share of CONTEXT_CHAR_BUDGET that retrieved passages may take.
    retrieval_budget_share: float = Field(default=0.25, gt=0, le=0.9)

    # Identity.
    admin_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    local_user_email: str = "developer@localhost"
    trust_forwarded_headers: bool = False
    # Call models with the signed-in user's own token (X-Forwarded-Access-Token, which Databricks
    # Apps forwards when the app has the `serving.serving-endpoints` user scope) instead of the app's.
    model_calls_as_user: bool = False

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("admin_users", mode="before")
    @classmethod
    def _split_admin_users(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("databricks_host", "llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            value = "https://" + value
        return value

    @field_validator("database_url", "databricks_token", "llm_api_key", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_schema")
    @classmethod
    def _plain_schema_name(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError(
                "must be 1-63 lowercase letters, digits or underscores, not starting with a digit"
            )
        if value == "public" or value.startswith("pg_") or value == "information_schema":
            raise ValueError(f"'{value}' is reserved; choose a schema of the app's own, e.g. lakebase_chat")
        return value

    @field_validator("pgsslmode")
    @classmethod
    def _known_sslmode(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}:
            raise ValueError("must be one of disable, allow, prefer, require, verify-ca, verify-full")
        return value

    @field_validator(
        "llm_endpoint",
        "databricks_app_name",
        "pghost",
        "pguser",
        "lakebase_endpoint",
        "lakebase_instance_name",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("local_user_email")
    @classmethod
    def _plain_identity(cls, value: str) -> str:
        value = value.strip().lower()
        if not value:
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _lakebase_is_complete(self) -> Settings:
        if self.pghost is None or self.database_url is not None:
            return self
        if self.pguser is None:
            raise ValueError("PGHOST is set, so PGUSER must be too (the app's service principal client id)")
        if self.lakebase_endpoint is None and self.lakebase_instance_name is None:
            raise ValueError(
                "PGHOST is set: also set LAKEBASE_ENDPOINT (Autoscaling) "
                "or LAKEBASE_INSTANCE_NAME (provisioned)"
            )
        return self

    @field_validator("turn_extension", "vector_search_index", "vector_search_link_column", mode="before")
    @classmethod
    def _blank_text_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("turn_extension")
    @classmethod
    def _factory_path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            raise ValueError("must name a factory as package.module:function")
        return value

    @field_validator("vector_search_index")
    @classmethod
    def _three_part_index_name(cls, value: str | None) -> str | None:
        # The name goes into the query's URL path: catalog.schema.index, nothing else.
        if value is not None and not re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", value, flags=re.ASCII):
            raise ValueError("must be the index's full name, catalog.schema.index")
        return value

    @field_validator("vector_search_text_column", "vector_search_title_column", "vector_search_link_column")
    @classmethod
    def _column_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value.strip()):
            raise ValueError("must be a column name (letters, digits and _)")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _retrieval_needs_a_workspace(self) -> Settings:
        if self.vector_search_index is not None and self.databricks_host is None:
            raise ValueError(
                "VECTOR_SEARCH_INDEX is set, so DATABRICKS_HOST must be too (the index lives in a workspace)"
            )
        return self

    @model_validator(mode="after")
    def _serving_endpoint_is_a_name(self) -> Settings:
        # A Databricks endpoint name goes into a URL path; an OpenAI-compatible model name goes
        # into the request body, where "llama3.1:8b" or "org/model" are fine.
        talks_to_databricks = self.llm_base_url is None and self.databricks_host is not None
        if (
            self.llm_endpoint is not None
            and talks_to_databricks
            and not is_serving_endpoint_name(self.llm_endpoint)
        ):
            raise ValueError(
                "LLM_ENDPOINT must be a serving endpoint's name: up to 63 letters, digits, - and _"
            )
        return self

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            for name in ("databricks_token", "llm_api_key"):
                secret = getattr(self, name)
                if secret is not None and secret.get_secret_value().strip().lower() in {
                    "changeme",
                    "change-me",
                    "your-token",
                    "dapi...",
                }:
                    raise ValueError(f"{name.upper()} is a placeholder; set a real value or remove it")
        return self

    @property
    def is_databricks_app(self) -> bool:
        return self.databricks_app_name is not None

    @property
    def uses_lakebase(self) -> bool:
        return self.database_url is None and self.pghost is not None

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    def outbox_path(self) -> Path:
        path = self.outbox_dir
        return path if path.is_absolute() else PROJECT_ROOT / path

    def embedded_db_path(self) -> Path:
        path = self.embedded_db_dir
        return path if path.is_absolute() else PROJECT_ROOT / path


def describe_settings_error(error: ValidationError) -> str:
    """A message naming each bad setting the way it is written in the environment."""
    lines = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        lines.append(f"{name}: {item['msg']}")
    return "Invalid configuration. " + "; ".join(lines)


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once. Tests call `get_settings.cache_clear()` after changing env."""
    return Settings()


def main(argv: list[str] | None = None) -> int:
    """`python -m services.config`: check the settings before start-up, printing what is wrong.

    With `--embedded-dir`, also print the embedded database's folder when the settings use it (and
    nothing otherwise): start_app.sh records it, so stop_app.sh stops only what its app started.
    """
    import sys

    arguments = sys.argv[1:] if argv is None else argv
    try:
        settings = Settings()
    except ValidationError as error:
        print(describe_settings_error(error))
        return 2
    if "--embedded-dir" in arguments and settings.database_url is None and not settings.uses_lakebase:
        print(settings.embedded_db_path())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
