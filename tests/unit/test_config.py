import re

import pytest
from pydantic import ValidationError

from services.config import Settings, describe_settings_error
from tests.conftest import PROJECT_ROOT


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


def test_defaults_run_with_nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = make()
    assert settings.database_url is None
    assert settings.llm_endpoint is None
    assert settings.environment == "development"
    assert not settings.is_databricks_app


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LLM_TEMPERATURE", "2.5"),
        ("LLM_TEMPERATURE", "-0.1"),
        ("LLM_MAX_TOKENS", "0"),
        ("LLM_MAX_TOKENS", "many"),
        ("MAX_MESSAGE_CHARS", "0"),
        ("LOG_LEVEL", "LOUD"),
        ("ENVIRONMENT", "staging"),
    ],
)
def test_a_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        make()
    assert describe_settings_error(caught.value).startswith(f"Invalid configuration. {variable}:")


def test_placeholder_token_is_refused_in_production() -> None:
    with pytest.raises(ValidationError) as caught:
        make(environment="production", databricks_token="changeme")
    assert "DATABRICKS_TOKEN is a placeholder" in describe_settings_error(caught.value)
    assert make(environment="development", databricks_token="changeme").databricks_token is not None


def test_admin_users_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_USERS", " Alice@Example.com, bob@example.com ,")
    assert make().admin_users == ["alice@example.com", "bob@example.com"]


def test_host_gets_a_scheme_and_loses_its_trailing_slash() -> None:
    assert (
        make(databricks_host="adb-1.azuredatabricks.net/").databricks_host
        == "https://adb-1.azuredatabricks.net"
    )


def test_secrets_are_hidden_in_repr() -> None:
    settings = make(databricks_token="dapi-secret-value", database_url="postgresql://u:pw-secret@h/db")
    assert "dapi-secret-value" not in repr(settings)
    assert "pw-secret" not in repr(settings)


def test_env_example_documents_every_setting() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from .env.example"
    # The SDK's own auth variables are documented too but are not fields of Settings.
    sdk_variables = {"DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_CONFIG_PROFILE"}
    assert documented - expected - sdk_variables == set(), (
        ".env.example documents settings the app does not read"
    )


def test_config_check_command_exits_non_zero_on_bad_settings(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from services.config import main

    monkeypatch.setenv("LLM_TEMPERATURE", "9")
    assert main() == 2
    assert "LLM_TEMPERATURE" in capsys.readouterr().out


def test_a_copy_of_env_example_gives_the_embedded_defaults(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text((PROJECT_ROOT / ".env.example").read_text())
    from_example = Settings(_env_file=env_file)
    defaults = make()
    assert from_example.model_dump() == defaults.model_dump()
