"""Who is using the app: the Databricks Apps proxy's forwarded headers, or a local developer identity.

The headers are trusted only when the app runs as a Databricks App (DATABRICKS_APP_NAME is set by
the platform) or TRUST_FORWARDED_HEADERS says so: anywhere else a client could simply send them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.config import Settings
from services.errors import UserError
from services.views import User

EMAIL_HEADER = "x-forwarded-email"
ACCESS_TOKEN_HEADER = "x-forwarded-access-token"
# OAuth access tokens are JWTs of a few kilobytes; anything far longer is not one.
MAX_TOKEN_CHARS = 16_384
USER_HEADER = "x-forwarded-user"
IDENTITY_HEADERS = (EMAIL_HEADER, USER_HEADER)
# An email address is at most 254 characters (RFC 5321); user ids are shorter.
MAX_IDENTITY_CHARS = 320


class IdentityError(UserError):
    user_message = (
        "Your identity could not be established from the Databricks Apps proxy, so nothing is shown. "
        "Open the app through its Databricks URL, or ask the app's owner to check its settings."
    )

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason  # for the log: which header, and what was wrong with it


def _header_values(headers: Mapping[str, str | Iterable[str]], name: str) -> list[str]:
    values: list[str] = []
    for key, value in headers.items():
        if key.lower() != name:
            continue
        if isinstance(value, str):
            values.append(value)
        else:
            values.extend(value)
    return values


def _single_header(headers: Mapping[str, str | Iterable[str]], name: str) -> str | None:
    values = _header_values(headers, name)
    if not values:
        return None
    # A header sent twice (or a comma-joined pair) is ambiguous: fail closed.
    if len(values) > 1 or "," in values[0]:
        raise IdentityError(f"{name} was given more than once")
    value = values[0].strip()
    limit = MAX_TOKEN_CHARS if name == ACCESS_TOKEN_HEADER else MAX_IDENTITY_CHARS
    if value and (len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        # Not something the proxy sends: a control character or an absurd length is an attack.
        raise IdentityError(f"{name} is malformed")
    return value or None


def resolve_user(headers: Mapping[str, str | Iterable[str]], settings: Settings) -> User:
    access_token = None
    if settings.is_databricks_app or settings.trust_forwarded_headers:
        identity = _single_header(headers, EMAIL_HEADER) or _single_header(headers, USER_HEADER)
        if identity is None:
            raise IdentityError("no forwarded identity header")
        email = identity.lower()
        if settings.model_calls_as_user:
            access_token = _single_header(headers, ACCESS_TOKEN_HEADER)
    else:
        email = settings.local_user_email
    return User(email=email, is_admin=email in settings.admin_users, access_token=access_token)
