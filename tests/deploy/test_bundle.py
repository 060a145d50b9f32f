"""The bundle, validated offline against the Databricks CLI's JSON schema (and by the CLI when present)."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import regex
import yaml
from jsonschema import Draft202012Validator
from jsonschema.validators import extend

from tests.conftest import PROJECT_ROOT

SCHEMA_PATH = PROJECT_ROOT.parent / "shared" / "databricks" / "bundle-schema.json"
BUNDLE = PROJECT_ROOT / "databricks.yml"


def _pattern(validator, pattern, instance, schema):
    """Go regex classes such as \\p{L} need the `regex` package; Python's `re` rejects them."""
    if isinstance(instance, str) and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not isinstance(instance, dict):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if regex.search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    if not isinstance(instance, dict) or additional is not False:
        if isinstance(instance, dict) and isinstance(additional, dict):
            extras = _extras(instance, schema)
            for key in extras:
                yield from validator.descend(instance[key], additional, path=key)
        return
    extras = _extras(instance, schema)
    if extras:
        yield jsonschema.ValidationError(
            f"Additional properties are not allowed ({', '.join(sorted(extras))})"
        )


def _extras(instance: dict, schema: dict) -> list[str]:
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return [k for k in instance if k not in properties and not any(regex.search(p, k) for p in patterns)]


BundleValidator = extend(
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
)


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA_PATH.exists():
        pytest.skip(f"the bundle schema is not at {SCHEMA_PATH}")
    import json

    schema = json.loads(SCHEMA_PATH.read_text())
    return BundleValidator(schema, format_checker=None)


def bundle_files() -> dict[Path, Any]:
    root = yaml.safe_load(BUNDLE.read_text())
    files = {BUNDLE: root}
    for pattern in root.get("include", []):
        for path in sorted(PROJECT_ROOT.glob(pattern)):
            files[path] = yaml.safe_load(path.read_text())
    return files


def errors_of(validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]


def test_the_bundle_and_its_resource_files_match_the_schema(validator) -> None:
    files = bundle_files()
    assert len(files) >= 3, "databricks.yml should include the resource files in deploy/resources"
    for path, document in files.items():
        assert errors_of(validator, document) == [], path.name


def test_the_bundle_declares_what_the_app_needs() -> None:
    files = bundle_files()
    app = next(
        doc["resources"]["apps"]["chat"] for doc in files.values() if "apps" in doc.get("resources", {})
    )
    resources = {r["name"]: r for r in app["resources"]}
    assert resources["serving-endpoint"]["serving_endpoint"]["permission"] == "CAN_QUERY"
    assert resources["postgres"]["postgres"]["permission"] == "CAN_CONNECT_AND_CREATE"
    assert app["permissions"] == [{"group_name": "${var.users_group}", "level": "CAN_USE"}]
    root = files[BUNDLE]
    assert set(root["targets"]) == {"dev", "prod"}
    assert root["targets"]["dev"]["mode"] == "development"
    assert {".venv", ".data", "tests", "bench"} <= set(root["sync"]["exclude"])
    # Runtime values are wired in app.yaml only (camelCase valueFrom), never in the bundle too.
    assert "config" not in app
    app_yaml = yaml.safe_load((PROJECT_ROOT / "app.yaml").read_text())
    assert app_yaml["command"][:4] == ["python", "serve.py", "run", "Home.py"]
    assert "$DATABRICKS_APP_PORT" in app_yaml["command"]
    value_from = {e["name"]: e["valueFrom"] for e in app_yaml["env"] if "valueFrom" in e}
    assert value_from == {"LLM_ENDPOINT": "serving-endpoint", "LAKEBASE_ENDPOINT": "postgres"}
    assert set(value_from.values()) <= set(resources)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda doc: doc["resources"]["apps"]["chat"]["resources"][0]["serving_endpoint"].update(
            permission="CAN_FLY"
        ),
        lambda doc: doc["resources"]["apps"]["chat"].update(source_code_dir="../.."),
        lambda doc: doc["resources"]["apps"]["chat"]["permissions"][0].update(level="CAN_OWN_EVERYTHING"),
        lambda doc: doc["resources"]["apps"]["chat"]["resources"][1]["postgres"].update(
            permission="${not a var}"
        ),
    ],
)
def test_a_broken_copy_fails_validation(validator, break_it) -> None:
    document = copy.deepcopy(
        yaml.safe_load((PROJECT_ROOT / "deploy" / "resources" / "chat_app.yml").read_text())
    )
    break_it(document)
    assert errors_of(validator, document) != []


@pytest.mark.skipif(shutil.which("databricks") is None, reason="the databricks CLI is not installed here")
def test_the_databricks_cli_validates_the_bundle() -> None:
    done = subprocess.run(
        ["databricks", "bundle", "validate", "-t", "dev"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- ids Databricks accepts, by construction ---------------------------------------------------------
from deploy.bundle import domain_friendly_name, id_problems, load_bundle, resolve, resource_references  # noqa: E402

SAMPLE_USERS = [
    ("jane.doe@example.com", None),
    ("Tést.Üser_1@example.com", None),
    ("o'brien+test@example.com", None),
    ("5f4e0a3c-2b1d-4c6e-9a8b-7c6d5e4f3a2b", "my_service_principal"),  # a service principal
]


@pytest.mark.parametrize(
    ("user_name", "display_name", "expected"),
    [
        # The CLI's own examples (libs/iamutil/user_test.go).
        ("test.user.1234@example.com", None, "test-user-1234"),
        ("tést.üser@example.com", None, "test-user"),
        ("5f4e0a3c-2b1d-4c6e-9a8b-7c6d5e4f3a2b", "my_service_principal", "my-service-principal"),
    ],
)
def test_domain_friendly_name_matches_the_cli(user_name, display_name, expected) -> None:
    assert domain_friendly_name(user_name, display_name) == expected


@pytest.mark.parametrize("target", ["dev", "prod"])
@pytest.mark.parametrize(("user_name", "display_name"), SAMPLE_USERS)
def test_every_id_in_every_target_is_rfc_1123(target, user_name, display_name) -> None:
    bundle = resolve(load_bundle(), target, user_name=user_name, display_name=display_name)
    assert id_problems(bundle.resources) == []


def test_dev_and_prod_never_collide_and_dev_is_per_developer() -> None:
    raw = load_bundle()
    prod = resolve(raw, "prod", user_name="jane.doe@example.com")
    jane = resolve(raw, "dev", user_name="jane.doe@example.com")
    john = resolve(raw, "dev", user_name="john.roe@example.com")
    names = {(b.app["name"], b.project_id, b.root_path) for b in (prod, jane, john)}
    assert len(names) == 3
    assert len({b.app["name"] for b in (prod, jane, john)}) == 3
    assert len({b.project_id for b in (prod, jane, john)}) == 3
    assert prod.app["name"] == "lakebase-chat"
    assert jane.app["name"] == "chat-dev-jane-doe"


@pytest.mark.parametrize(
    ("kind", "field", "bad"),
    [
        ("postgres_databases", "database_id", "chat_db"),  # underscore: the old default's mistake
        ("postgres_databases", "database_id", "databricks_postgres"),
        ("postgres_projects", "project_id", "Lakebase-Chat"),
        ("postgres_branches", "branch_id", "-production"),
        ("postgres_roles", "role_id", "own"),  # under 4 characters
        ("apps", "name", "lakebase_chat"),
        ("apps", "name", "a-chat-app-whose-name-is-far-too-long"),
    ],
)
def test_the_id_check_rejects_what_databricks_refuses(kind, field, bad) -> None:
    resources = copy.deepcopy(resolve(load_bundle(), "prod", user_name="jane.doe@example.com").resources)
    next(iter(resources[kind].values()))[field] = bad
    problems = id_problems(resources)
    assert len(problems) == 1
    assert f"`{bad}`" in problems[0]


def test_the_app_depends_on_the_lakebase_resources_it_uses() -> None:
    raw = load_bundle()
    postgres = next(r for r in raw["resources"]["apps"]["chat"]["resources"] if r["name"] == "postgres")
    # ${resources...} references (not ${var...} strings) make the CLI create these before the app.
    assert postgres["postgres"]["branch"] == "${resources.postgres_branches.production.id}"
    assert postgres["postgres"]["database"] == "${resources.postgres_databases.chat.id}"
    for reference in resource_references(raw["resources"]):
        _, kind, key, field = reference.split(".")
        assert key in raw["resources"][kind], reference
        assert field == "id", reference  # the resource's full path, known when the bundle is planned


def test_the_compute_size_default_is_one_databricks_accepts() -> None:
    raw = load_bundle()
    assert raw["resources"]["apps"]["chat"]["compute_size"] == "${var.app_compute_size}"
    assert raw["variables"]["app_compute_size"]["default"] in {"MEDIUM", "LARGE", "XLARGE"}


def test_user_scopes_are_off_by_default_and_a_target_can_ask_for_the_serving_scope() -> None:
    raw = load_bundle()
    assert resolve(raw, "prod", user_name="jane.doe@example.com").app["user_api_scopes"] == []
    raw["targets"]["prod"]["variables"]["user_api_scopes"] = ["serving.serving-endpoints"]
    app = resolve(raw, "prod", user_name="jane.doe@example.com").app
    assert app["user_api_scopes"] == ["serving.serving-endpoints"]
