"""components.heap: after new imports, garbage is collected and what is left is frozen, out of reach of
later full collections; with no new import, nothing happens."""

from __future__ import annotations

import gc
import importlib
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import heap


class Node:
    def __init__(self) -> None:
        self.itself = self  # a reference cycle: only the cycle collector frees it


def tracked(thing: object) -> bool:
    """Whether a collection would look at `thing` (frozen objects are in no generation)."""
    return any(candidate is thing for candidate in gc.get_objects())


@pytest.fixture
def new_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a module that has not been imported yet; it makes a cycle at import."""
    (tmp_path / "freshly_imported.py").write_text(
        "class Holder:\n    pass\n\nTABLE = Holder()\nTABLE.itself = TABLE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "freshly_imported"
    sys.modules.pop("freshly_imported", None)
    gc.unfreeze()  # back as it was for the tests after this one


def test_nothing_happens_when_nothing_was_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_modules_at_last_freeze", len(sys.modules))
    frozen_before = gc.get_freeze_count()
    node = Node()

    assert heap.freeze_what_imports_made() is False
    assert gc.get_freeze_count() == frozen_before
    assert tracked(node)


def test_what_an_import_made_is_frozen_and_garbage_is_collected_first(new_module: str) -> None:
    heap.freeze_what_imports_made()  # whatever earlier tests imported
    garbage = Node()
    garbage_left = weakref.ref(garbage)
    del garbage
    module = importlib.import_module(new_module)

    assert heap.freeze_what_imports_made() is True
    assert garbage_left() is None  # collected, not frozen for good
    assert not tracked(module.TABLE)  # later collections skip it
    assert module.TABLE.itself is module.TABLE  # and it is still there
    assert heap.freeze_what_imports_made() is False  # once per import
