"""Imports point down only (DESIGN.md): pages -> components -> services -> persistence, and nothing
below components imports Streamlit. Read from the source, so an import inside a function counts."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import PROJECT_ROOT

# What each layer may not import (its own layer and those below it are fine).
FORBIDDEN = {
    "persistence": {"services", "components", "app_pages", "streamlit"},
    "services": {"components", "app_pages", "streamlit"},
    "components": {"app_pages"},
}


def imported_modules(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_one_above_it(layer: str) -> None:
    crossings = [
        f"{path.relative_to(PROJECT_ROOT)} imports {module}"
        for path in sorted((PROJECT_ROOT / layer).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if module.split(".")[0] in FORBIDDEN[layer]
    ]
    assert crossings == []
