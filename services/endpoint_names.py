"""Which model endpoint names a chat may use, and the shape of a serving endpoint's name.

An endpoint name goes into a URL path (`/serving-endpoints/{name}/invocations`) that the app calls
with its own bearer token. A name such as `../../api/2.0/token/create#` would make it call another
workspace API as the app's service principal, so a name is used only when it has the shape
Databricks allows and is one this app may use: the configured default or one listed by the
workspace as a ready chat endpoint (services.endpoint_catalog).
"""

from __future__ import annotations

import re

from services.errors import UserError

# Databricks: "Endpoint names can contain only alphanumeric characters, dashes, and underscores",
# at most 63 of them; this app also wants a letter or digit first.
SERVING_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def is_serving_endpoint_name(name: object) -> bool:
    return isinstance(name, str) and SERVING_ENDPOINT_NAME.fullmatch(name) is not None


class EndpointNotAllowed(UserError):
    def __init__(self, name: str) -> None:
        shown = name if is_serving_endpoint_name(name) else "(an invalid name)"
        super().__init__(
            f"The model endpoint `{shown}` is not one this app may use. Choose a model in the chat's "
            "settings (the list shows every endpoint you can use); your message is saved."
        )
