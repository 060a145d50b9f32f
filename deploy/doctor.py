"""`deploy/deploy.sh doctor --target T [--profile P]`: what would stop a deploy, found before it.

Checks, each printed as one line of a table with a fix for every failing line:
sign-in, the Databricks CLI's version, the bundle's ids, the serving endpoint (exists, READY, a chat
task), the Lakebase project, branch and database (exist, or will be created by this bundle), and the
app name (free, or already this bundle's app). Exit code 1 when any line fails.

Authentication is databricks-sdk's (the CLI's profiles, DATABRICKS_* variables); no token is printed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deploy.bundle import ResolvedBundle, id_problems, load_bundle, minimum_cli_version, resolve
from services.endpoint_catalog import CHAT_TASKS  # the tasks the app can chat with, one list

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

OK, FAIL, SKIP = "ok", "FAIL", "skipped"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def check_cli(minimum: str, cli: str = "databricks") -> Check:
    if shutil.which(cli) is None:
        return Check(
            "Databricks CLI", FAIL, "not installed", f"Install the Databricks CLI {minimum} or newer."
        )
    try:
        output = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        output = ""
    match = re.search(r"(\d+\.\d+\.\d+)", output)
    if match is None:
        return Check("Databricks CLI", FAIL, "its version could not be read", f"Reinstall it ({minimum}+).")
    installed = match.group(1)
    if _version_tuple(installed) < _version_tuple(minimum):
        return Check(
            "Databricks CLI",
            FAIL,
            f"version {installed}; the bundle needs {minimum} or newer",
            f"Upgrade the Databricks CLI to {minimum} or newer.",
        )
    return Check("Databricks CLI", OK, f"version {installed} (needs {minimum}+)")


def _not_found(error: Exception) -> bool:
    from databricks.sdk.errors import NotFound

    return isinstance(error, NotFound)


def check_serving_endpoint(client: WorkspaceClient, name: str) -> Check:
    label = "Serving endpoint"
    try:
        endpoint = client.serving_endpoints.get(name)
    except Exception as error:
        if _not_found(error):
            return Check(
                label,
                FAIL,
                f"`{name}` does not exist in this workspace",
                "Pick one from `databricks serving-endpoints list` and pass it with "
                "--var serving_endpoint=<name> (or change the default in databricks.yml).",
            )
        raise
    ready = getattr(getattr(endpoint.state, "ready", None), "value", None)
    if ready != "READY":
        return Check(
            label,
            FAIL,
            f"`{name}` is not ready ({ready or 'state unknown'})",
            "Wait until the endpoint shows Ready in Serving, or fix its failed update.",
        )
    if endpoint.task not in CHAT_TASKS:
        return Check(
            label,
            FAIL,
            f"`{name}` is a `{endpoint.task or 'custom'}` endpoint, not a chat endpoint",
            f"Choose an endpoint whose task is one of {', '.join(sorted(CHAT_TASKS))}.",
        )
    return Check(label, OK, f"`{name}` is READY ({endpoint.task})")


def _app_of_this_bundle(client: WorkspaceClient, bundle: ResolvedBundle) -> tuple[Any | None, bool]:
    """The app with the bundle's name (None when the name is free) and whether this bundle made it."""
    try:
        app = client.apps.get(bundle.app["name"])
    except Exception as error:
        if _not_found(error):
            return None, False
        raise
    # An app carries no bundle marker; a bundle deploys it from <root_path>/files.
    source = app.default_source_code_path or getattr(app.active_deployment, "source_code_path", None) or ""
    return app, source.rstrip("/") == bundle.app_source_path


def check_app_name(client: WorkspaceClient, bundle: ResolvedBundle) -> Check:
    name = bundle.app["name"]
    app, ours = _app_of_this_bundle(client, bundle)
    if app is None:
        return Check("App name", OK, f"`{name}` is free; the deploy creates the app")
    if ours:
        return Check("App name", OK, f"`{name}` is this bundle's app; the deploy updates it")
    return Check(
        "App name",
        FAIL,
        f"`{name}` is taken by an app this bundle did not deploy",
        "Choose another name with --var app_name=<name>, or bind the existing app: "
        f"`databricks bundle deployment bind chat {name} -t {bundle.target}`.",
    )


def check_lakebase(client: WorkspaceClient, bundle: ResolvedBundle) -> list[Check]:
    project_path = f"projects/{bundle.project_id}"
    try:
        client.postgres.get_project(name=project_path)
    except Exception as error:
        if not _not_found(error):
            raise
        created = "does not exist yet; the deploy creates it"
        return [
            Check("Lakebase project", OK, f"`{project_path}` {created}"),
            Check("Lakebase branch", OK, f"`{bundle.branch_path}` {created}"),
            Check("Lakebase database", OK, f"`{bundle.database_path}` {created}"),
        ]
    app, ours = _app_of_this_bundle(client, bundle)
    used_by_our_app = ours and any(
        str(getattr(getattr(resource, "postgres", None), "branch", "") or "").startswith(project_path + "/")
        for resource in (app.resources or [])
    )
    if not used_by_our_app:
        return [
            Check(
                "Lakebase project",
                FAIL,
                f"`{project_path}` exists and this bundle's app does not use it; creating it would fail",
                "Use it by binding it once: `databricks bundle deployment bind chat_database "
                f"{project_path} -t {bundle.target}`, or pick another id with --var lakebase_project=<id>.",
            ),
            Check("Lakebase branch", SKIP, "depends on the project"),
            Check("Lakebase database", SKIP, "depends on the project"),
        ]
    checks = [Check("Lakebase project", OK, f"`{project_path}` exists and is this bundle's")]
    for label, path, getter in (
        ("Lakebase branch", bundle.branch_path, client.postgres.get_branch),
        ("Lakebase database", bundle.database_path, client.postgres.get_database),
    ):
        try:
            getter(name=path)
            checks.append(Check(label, OK, f"`{path}` exists"))
        except Exception as error:
            if not _not_found(error):
                raise
            checks.append(Check(label, OK, f"`{path}` does not exist yet; the deploy creates it"))
    return checks


def run_checks(
    target: str,
    *,
    client_factory: Callable[[], WorkspaceClient],
    cli: str = "databricks",
    variables: dict[str, str] | None = None,
) -> list[Check]:
    raw = load_bundle()
    checks = [check_cli(minimum_cli_version(raw), cli)]
    try:
        client = client_factory()
        me = client.current_user.me()
    except Exception as error:
        checks.append(
            Check(
                "Sign-in",
                FAIL,
                f"the workspace refused or could not be reached ({type(error).__name__})",
                "Sign in with `databricks auth login --host <workspace-url>` (add --profile to name it), "
                "then pass the same --profile here.",
            )
        )
        return checks + [Check(name, SKIP, "needs sign-in") for name in _WORKSPACE_CHECKS]
    checks.append(Check("Sign-in", OK, f"signed in as {me.user_name}"))
    bundle = resolve(
        raw, target, user_name=me.user_name or "", display_name=me.display_name, variables=variables
    )
    problems = id_problems(bundle.resources)
    if problems:
        checks.append(
            Check(
                "Bundle ids",
                FAIL,
                "; ".join(problems),
                "Change the variables named above (--var or databricks.yml) to valid ids.",
            )
        )
    else:
        checks.append(Check("Bundle ids", OK, f"app `{bundle.app['name']}`, project `{bundle.project_id}`"))
    for step in (
        lambda: [check_serving_endpoint(client, bundle.serving_endpoint)],
        lambda: check_lakebase(client, bundle),
        lambda: [check_app_name(client, bundle)],
    ):
        try:
            checks += step()
        except Exception as error:
            checks.append(
                Check(
                    "Workspace",
                    FAIL,
                    f"a check could not finish ({type(error).__name__})",
                    "Check that this identity may read serving endpoints, apps and Lakebase projects.",
                )
            )
    return checks


_WORKSPACE_CHECKS = ("Bundle ids", "Serving endpoint", "Lakebase project", "App name")


def render(checks: list[Check]) -> str:
    rows = [("check", "result", "detail", "fix")] + [(c.name, c.status, c.detail, c.fix) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])).rstrip())
        if row[3] and row is not rows[0]:
            lines.append(" " * (widths[0] + 2) + "fix: " + row[3])
    return "\n".join(lines)


def _workspace_client(profile: str | None) -> WorkspaceClient:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    # Short timeouts and no minutes of retries: a doctor answers quickly or says why not.
    config = Config(profile=profile, http_timeout_seconds=15, retry_timeout_seconds=30)
    return WorkspaceClient(config=config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy/deploy.sh doctor", description="Check a workspace before deploying this bundle to it."
    )
    parser.add_argument("--target", "-t", default="dev", help="the bundle target (default: dev)")
    parser.add_argument("--profile", "-p", default=None, help="a profile from ~/.databrickscfg")
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="a bundle variable, as for the CLI"
    )
    args = parser.parse_args(argv)
    variables = dict(item.split("=", 1) for item in args.var if "=" in item)
    checks = run_checks(
        args.target, client_factory=lambda: _workspace_client(args.profile), variables=variables
    )
    print(render(checks))
    failed = [c for c in checks if c.status == FAIL]
    print(
        f"\n{len(failed)} check(s) failed; fix them, then run the doctor again."
        if failed
        else f"\nReady: `deploy/deploy.sh deploy --target {args.target}`."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
