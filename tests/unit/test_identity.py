import pytest

from services.config import Settings
from services.identity import IdentityError, resolve_user


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


def test_locally_the_developer_identity_is_used_and_headers_are_ignored() -> None:
    user = resolve_user({"X-Forwarded-Email": "mallory@example.com"}, settings(local_user_email="Dev@Local"))
    assert user.email == "dev@local"


def test_as_a_databricks_app_the_forwarded_email_is_the_user() -> None:
    user = resolve_user(
        {"X-Forwarded-Email": "Alice@Example.com", "X-Forwarded-User": "123"},
        settings(databricks_app_name="chat", admin_users="alice@example.com"),
    )
    assert user.email == "alice@example.com"
    assert user.is_admin


def test_forwarded_user_is_the_fallback_when_email_is_absent() -> None:
    user = resolve_user({"x-forwarded-user": "svc-42@workspace"}, settings(trust_forwarded_headers=True))
    assert user.email == "svc-42@workspace"
    assert not user.is_admin


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Forwarded-Email": "   "},
        {"X-Forwarded-Email": ["a@example.com", "b@example.com"]},
        {"X-Forwarded-Email": "a@example.com, b@example.com"},
    ],
)
def test_missing_or_repeated_headers_fail_closed(headers: dict) -> None:
    with pytest.raises(IdentityError):
        resolve_user(headers, settings(databricks_app_name="chat"))


def test_the_users_own_token_is_read_only_when_models_are_called_as_the_user() -> None:
    headers = {"X-Forwarded-Email": "alice@example.com", "X-Forwarded-Access-Token": "eyJuser"}
    assert resolve_user(headers, settings(databricks_app_name="chat")).access_token is None
    user = resolve_user(headers, settings(databricks_app_name="chat", model_calls_as_user=True))
    assert user.access_token == "eyJuser"
    assert "eyJuser" not in repr(user)  # never in a log line that prints the user


def test_a_token_outside_databricks_apps_is_ignored() -> None:
    headers = {"X-Forwarded-Access-Token": "eyJforged"}
    assert resolve_user(headers, settings(model_calls_as_user=True)).access_token is None
