"""The in-memory backend in C, when it is built: same answers, a fraction of the cost.

On a protected read the pure-Python backend (:mod:`.memory`) spent about as long executing
the request's storage operations as Starlette spends serving the whole request: dictionary
steps, entry tuples rebuilt on every update, a sketch object per distinct counter, all of it
scattered over the heap. ``_native.c`` executes one request's batch in one C call over one
table of small fixed-size entries, and the garbage collector never walks that table.

:mod:`.memory` stays the readable reference: the C code follows it step for step, takes the
sketch's constants from :mod:`.sketch`, and ``tests/test_native_storage.py`` checks the two
give the same results, op for op. What differs on purpose:

* ``Get`` on a key that holds a budget window or a distinct counter answers None;
* keys and distinct members must be ``str`` (anything else is a ``TypeError``);
* ``cap`` must be at least 1.

The extension is optional at install time (no compiler: the build skips it). Set
``ANTISCRAPE_PURE_PYTHON=1`` to use the Python backend even when it is built, e.g. to rule
the C code out while chasing a problem.
"""

from __future__ import annotations

import os
from typing import Any

from . import sketch
from .ops import DistinctAdd, DistinctAddAll, Get, Hit, Incr, Put, PutIfAbsent, Recent

NativeMemoryStorage: Any = None
"""The C store's class (``NativeMemoryStorage(cap=200_000)``), or None when not built."""

try:
    from . import _native
except ImportError:  # built without a compiler: the Python backend serves
    _native = None
else:
    _native.configure((Hit, Incr, Get, Put, PutIfAbsent, DistinctAdd, DistinctAddAll, Recent),
                      sketch._WEIGHT, sketch._M_SIGMA, sketch._ALPHA_MM)
    NativeMemoryStorage = _native.NativeMemoryStorage


def native_available() -> bool:
    """Whether the C store is built and importable."""
    return NativeMemoryStorage is not None


def native_wanted() -> bool:
    """Whether ``memory://`` should use the C store: built, and not turned off by
    ``ANTISCRAPE_PURE_PYTHON``."""
    return native_available() and os.environ.get("ANTISCRAPE_PURE_PYTHON", "") in ("", "0")
