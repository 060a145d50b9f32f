"""A fake Databricks workspace on loopback for the deploy doctor: the REST routes databricks-sdk calls.

- `GET /api/2.0/preview/scim/v2/Me`: the signed-in user (SCIM: `userName`, `displayName`).
- `GET /api/2.0/serving-endpoints/{name}`: `name`, `task`, `state.ready` (READY / NOT_READY).
- `GET /api/2.0/apps/{name}`: `name`, `default_source_code_path`, `resources`.
- `GET /api/2.0/postgres/projects/{p}[/branches/{b}[/databases/{d}]]`: Lakebase resources by full path.

Anything unknown answers 404 with `{"error_code": "NOT_FOUND", ...}` (databricks-sdk raises NotFound),
a bad token 401 with `UNAUTHENTICATED`, as the platform does. Names are checked as strictly as the
platform checks them: a Lakebase id that is not RFC 1123 is a 400 INVALID_PARAMETER_VALUE.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.fakes.loopback import LoopbackServer

_LAKEBASE_ID = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass
class FakeWorkspace(LoopbackServer):
    token: str = "dapi-doctor-token"
    user_name: str = "jane.doe@example.com"
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    postgres: dict[str, dict[str, Any]] = field(default_factory=dict)  # full path -> resource
    paths_seen: list[str] = field(default_factory=list)

    def add_chat_endpoint(self, name: str, *, task: str = "llm/v1/chat", ready: str = "READY") -> None:
        self.endpoints[name] = {"name": name, "task": task, "state": {"ready": ready}}

    def add_project(self, project_id: str, *, databases: tuple[str, ...] = ()) -> None:
        project = f"projects/{project_id}"
        self.postgres[project] = {"name": project, "project_id": project_id}
        branch = f"{project}/branches/production"
        self.postgres[branch] = {"name": branch, "branch_id": "production", "parent": project}
        for database_id in databases:
            path = f"{branch}/databases/{database_id}"
            self.postgres[path] = {"name": path, "database_id": database_id, "parent": branch}

    def start(self) -> FakeWorkspace:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self, what: str, code: str = "NOT_FOUND") -> None:
                self._json(404, {"error_code": code, "message": f"{what} does not exist."})

            def do_GET(self) -> None:
                path = unquote(self.path.split("?")[0])
                fake.paths_seen.append(path)
                if path == "/.well-known/databricks-config":
                    # Host metadata, as workspaces publish it.
                    self._json(200, {"oidc_endpoint": f"{fake.url}/oidc", "workspace_id": "1234567890"})
                    return
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._json(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
                    return
                if path == "/api/2.0/preview/scim/v2/Me":
                    self._json(200, {"id": "1", "userName": fake.user_name, "displayName": "Jane Doe"})
                    return
                if match := re.fullmatch(r"/api/2\.0/serving-endpoints/([^/]+)", path):
                    endpoint = fake.endpoints.get(match.group(1))
                    if endpoint is None:  # the serving API's own code for a missing endpoint
                        self._not_found(f"Endpoint {match.group(1)}", "RESOURCE_DOES_NOT_EXIST")
                    else:
                        self._json(200, endpoint)
                    return
                if match := re.fullmatch(r"/api/2\.0/apps/([^/]+)", path):
                    app = fake.apps.get(match.group(1))
                    self._json(200, app) if app else self._not_found(f"App {match.group(1)}")
                    return
                if match := re.fullmatch(r"/api/2\.0/postgres/(projects/.+)", path):
                    resource_path = match.group(1)
                    ids = resource_path.split("/")[1::2]
                    if not all(_LAKEBASE_ID.fullmatch(i) for i in ids):
                        self._json(
                            400,
                            {
                                "error_code": "INVALID_PARAMETER_VALUE",
                                "message": "Field must match pattern ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
                            },
                        )
                        return
                    resource = fake.postgres.get(resource_path)
                    self._json(200, resource) if resource else self._not_found(resource_path)
                    return
                self._not_found(path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self
