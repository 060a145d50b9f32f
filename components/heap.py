"""Short full garbage collections: what imports leave on the heap is put out of the collector's sight.

CPython's collector now and then walks every object it tracks (a full collection), holding the
interpreter's lock, so every page run and every streaming reply in the process waits for it. Most of
the app's heap is what imports made (the modules of Streamlit, SQLAlchemy, psycopg and the SDKs:
their classes, functions and tables), which lives as long as the process and is never garbage.
Under load (bench/load, ten users) such a collection took 114 to 125 ms in the app and came in
the middle of a burst of submits; after freezing, 2 to 8 ms.

So after a page run that imported something new (the first one after a start, an admin page's
charting libraries), garbage is collected once and everything left is frozen: moved to the permanent
generation, which later collections skip. Visiting every page of a fresh server three times froze
five times, all on the first visits: 137 ms for the first (about 200,000 objects), 20 to 44 ms for
the others, then never again. Frozen objects are still freed when nothing refers to them. What is
lost is only a reference cycle among them that becomes garbage: the objects of the sessions open at
a freeze, once those sessions end; a handful of freezes a process, a few sessions each.
"""

from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_modules_at_last_freeze = 0


def freeze_what_imports_made() -> bool:
    """Collect and freeze if modules were imported since the last time; True if it did.

    Cheap when nothing was imported (a length compared), which is every page run but the first few."""
    global _modules_at_last_freeze
    if len(sys.modules) == _modules_at_last_freeze:
        return False
    with _lock:  # page runs are threads: one of them collects
        if len(sys.modules) == _modules_at_last_freeze:
            return False
        gc.collect()
        gc.freeze()
        _modules_at_last_freeze = len(sys.modules)
    return True
