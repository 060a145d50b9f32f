"""Read this project's bundle the way the Databricks CLI resolves it, and check its ids offline.

Used by the deploy doctor (to know which names a target will create) and by the bundle tests (to
reject an id Databricks would refuse). Only what this bundle uses is resolved: `${var.*}`,
`${bundle.name}`, `${bundle.target}` and `${workspace.current_user.domain_friendly_name}`;
`${resources.*}` references are left as they are (the CLI fills them in at deploy time).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLE_FILE = PROJECT_ROOT / "databricks.yml"

# RFC 1123 labels, as Databricks states them for each id (the CLI's JSON schema descriptions and
# the Lakebase API's own error: "Field database_id must match pattern ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$").
_DNS_LABEL = r"[a-z]([a-z0-9-]*[a-z0-9])?"
ID_RULES: dict[str, tuple[str, int, int]] = {
    # kind: (pattern, shortest, longest)
    "app name": (_DNS_LABEL, 2, 30),  # part of the app's URL; the CLI's `apps init` allows 30
    "project_id": (_DNS_LABEL, 1, 63),
    "branch_id": (_DNS_LABEL, 1, 63),
    "endpoint_id": (_DNS_LABEL, 1, 63),
    "role_id": (_DNS_LABEL, 4, 63),
    "database_id": (_DNS_LABEL, 4, 63),
}
# Where each id sits in the resources mapping: (resource type, field, kind).
ID_FIELDS = [
    ("apps", "name", "app name"),
    ("postgres_projects", "project_id", "project_id"),
    ("postgres_branches", "branch_id", "branch_id"),
    ("postgres_endpoints", "endpoint_id", "endpoint_id"),
    ("postgres_roles", "role_id", "role_id"),
    ("postgres_databases", "database_id", "database_id"),
]

_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def load_bundle(path: Path = BUNDLE_FILE) -> dict[str, Any]:
    """databricks.yml with the resource files it includes merged in."""
    root = yaml.safe_load(path.read_text())
    for pattern in root.get("include", []):
        for included in sorted(path.parent.glob(pattern)):
            document = yaml.safe_load(included.read_text()) or {}
            for kind, entries in document.get("resources", {}).items():
                root.setdefault("resources", {}).setdefault(kind, {}).update(entries)
    return root


def domain_friendly_name(user_name: str, display_name: str | None = None) -> str:
    """`${workspace.current_user.domain_friendly_name}`, as the CLI computes it (libs/iamutil):
    the local part of the user name (a service principal's display name), lowercased, every run of
    characters other than letters and digits made one underscore and trimmed, then accents
    removed and everything but ASCII letters and digits replaced by a hyphen."""
    name = user_name
    try:
        uuid.UUID(user_name)
        name = display_name or user_name  # a service principal's user name is its UUID
    except ValueError:
        pass
    local = name.split("@", 1)[0].lower()
    short = re.sub(r"_+", "_", "".join(c if c.isalnum() else "_" for c in local)).strip("_")
    unmarked = unicodedata.normalize(
        "NFC", "".join(c for c in unicodedata.normalize("NFD", short) if unicodedata.category(c) != "Mn")
    )
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in unmarked).lower()


@dataclass(frozen=True)
class ResolvedBundle:
    target: str
    document: dict[str, Any]  # the bundle with variables substituted
    root_path: str  # the workspace folder the bundle deploys into

    @property
    def resources(self) -> dict[str, Any]:
        return self.document.get("resources", {})

    @property
    def app(self) -> dict[str, Any]:
        return self.resources["apps"]["chat"]

    @property
    def app_source_path(self) -> str:
        # source_code_path ../.. from deploy/resources is the bundle root, uploaded to <root>/files.
        return f"{self.root_path}/files"

    def app_resource(self, key: str) -> dict[str, Any]:
        return next(r for r in self.app["resources"] if r["name"] == key)

    @property
    def project_id(self) -> str:
        return self.resources["postgres_projects"]["chat_database"]["project_id"]

    @property
    def branch_path(self) -> str:
        branch_id = self.resources["postgres_branches"]["production"]["branch_id"]
        return f"projects/{self.project_id}/branches/{branch_id}"

    @property
    def database_path(self) -> str:
        return f"{self.branch_path}/databases/{self.resources['postgres_databases']['chat']['database_id']}"

    @property
    def serving_endpoint(self) -> str:
        return self.app_resource("serving-endpoint")["serving_endpoint"]["name"]


def resolve(
    bundle: dict[str, Any],
    target: str,
    *,
    user_name: str,
    display_name: str | None = None,
    variables: dict[str, str] | None = None,
) -> ResolvedBundle:
    """Substitute the variables (--var over the target's over the defaults) and the user's names."""
    if target not in bundle.get("targets", {}):
        raise ValueError(
            f"The bundle has no target '{target}' (it has {', '.join(bundle.get('targets', {}))})"
        )
    target_config = bundle["targets"][target] or {}
    values: dict[str, Any] = {
        "bundle.name": bundle["bundle"]["name"],
        "bundle.target": target,
        "workspace.current_user.domain_friendly_name": domain_friendly_name(user_name, display_name),
        "workspace.current_user.userName": user_name,
    }

    def variable_value(value: Any) -> Any:
        # Complex variables (lists, maps) keep their shape; everything else is text.
        return value if isinstance(value, (list, dict)) else str(value)

    for name, variable in bundle.get("variables", {}).items():
        if "default" in variable:
            values[f"var.{name}"] = variable_value(variable["default"])
    for name, value in {**(target_config.get("variables") or {}), **(variables or {})}.items():
        values[f"var.{name}"] = variable_value(value)

    def substitute(value: Any) -> Any:
        whole = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if whole is not None and isinstance(values.get(whole.group(1)), (list, dict)):
            return substitute(values[whole.group(1)])  # a complex variable stands in whole
        if isinstance(value, str):
            # Twice: a variable's value may itself hold a reference (dev's app_name does).
            for _ in range(2):
                value = _REFERENCE.sub(lambda m: str(values.get(m.group(1), m.group(0))), value)
            return value
        if isinstance(value, dict):
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    document = substitute({k: v for k, v in bundle.items() if k not in {"targets", "variables"}})
    default_root = f"/Workspace/Users/{user_name}/.bundle/{bundle['bundle']['name']}/{target}"
    root_path = substitute((target_config.get("workspace") or {}).get("root_path", default_root))
    return ResolvedBundle(target=target, document=document, root_path=root_path)


def id_problems(resources: dict[str, Any]) -> list[str]:
    """Every id Databricks would refuse, as 'kind `value`: why' lines (empty when all are valid)."""
    problems = []
    for kind_key, field, kind in ID_FIELDS:
        for key, resource in (resources.get(kind_key) or {}).items():
            value = resource.get(field)
            if not isinstance(value, str):
                problems.append(f"{kind_key}.{key}: {field} is missing")
                continue
            if _REFERENCE.search(value):
                problems.append(f"{kind_key}.{key}: {kind} `{value}` still holds an unresolved reference")
                continue
            pattern, shortest, longest = ID_RULES[kind]
            if not re.fullmatch(pattern, value):
                problems.append(
                    f"{kind_key}.{key}: {kind} `{value}` must be lowercase letters, digits and hyphens, "
                    "start with a letter and not end with a hyphen (RFC 1123)"
                )
            elif not shortest <= len(value) <= longest:
                problems.append(f"{kind_key}.{key}: {kind} `{value}` must be {shortest}-{longest} characters")
    return problems


def resource_references(document: Any) -> list[str]:
    """Every `${resources.<type>.<key>.<field>}` reference in the bundle."""
    found: list[str] = []
    if isinstance(document, str):
        found += [m for m in _REFERENCE.findall(document) if m.startswith("resources.")]
    elif isinstance(document, dict):
        for value in document.values():
            found += resource_references(value)
    elif isinstance(document, list):
        for value in document:
            found += resource_references(value)
    return found


def minimum_cli_version(bundle: dict[str, Any]) -> str:
    """The version in `bundle.databricks_cli_version` (">= X.Y.Z"), stated once for everything."""
    match = re.fullmatch(r"\s*>=\s*(\d+\.\d+\.\d+)\s*", bundle["bundle"]["databricks_cli_version"])
    if match is None:
        raise ValueError("bundle.databricks_cli_version must read '>= X.Y.Z'")
    return match.group(1)


def main() -> int:
    """`python -m deploy.bundle min-cli-version`: print the CLI version the bundle needs (for deploy.sh)."""
    print(minimum_cli_version(load_bundle()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
