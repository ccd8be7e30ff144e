"""C versions of the hot path's costliest steps, when they are built.

``antiscrape/_native.c`` holds:

* **the in-memory state backend** (``NativeMemoryStorage``). On a protected read the Python
  backend (:mod:`.state.memory`) spent about as long executing the request's storage
  operations as Starlette spends serving the whole request: dictionary steps, entry tuples
  rebuilt on every update, a sketch object per distinct counter, all of it scattered over the
  heap. The C store executes one request's batch in one call over one table of small
  fixed-size entries, and the garbage collector never walks that table;
* **ASGI header decoding** (:func:`decode_asgi_headers`): every request's raw header pairs
  into the str dict the engine reads;
* **fingerprint material** (:func:`antiscrape.identity.fingerprint_material`), which every
  protected read builds from its headers.

The Python versions stay the readable reference: the C store follows :mod:`.state.memory`
step for step and takes the sketch's constants from :mod:`.state.sketch`, and
``tests/test_native_storage.py`` checks that both give the same results on random streams of
every op. Where the Python store would answer nonsense or fail somewhere deeper, the C store
refuses plainly instead:

* keys and distinct members must be exact ``str`` (a subclass could run Python code in the
  middle of a batch), ``Recent`` values too, and ``also`` a tuple: else ``TypeError``;
* an op on a live key that holds another kind of state raises ``TypeError``;
* a ``Hit`` window of 0 is a ``ValueError``, a counter past ``2**63 - 1`` an
  ``OverflowError``;
* ``Get`` on a key that holds a budget window or a distinct counter answers None;
* ``cap`` runs from 1 to ``2**29``.

The extension is optional at install time (no compiler: the build skips it). Set
``ANTISCRAPE_PURE_PYTHON=1`` to use the Python versions even when it is built, e.g. to rule
the C code out while chasing a problem (the functions read it at import, ``memory://`` each
time it opens a store).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .state import sketch
from .state.ops import DistinctAdd, DistinctAddAll, Get, Hit, Incr, Put, PutIfAbsent, Recent

NativeMemoryStorage: Any = None
"""The C store's class (``NativeMemoryStorage(cap=200_000)``), or None when not built."""

try:
    from . import _native
except ImportError:  # built without a compiler: the Python versions serve
    _native = None
else:
    _native.configure((Hit, Incr, Get, Put, PutIfAbsent, DistinctAdd, DistinctAddAll, Recent),
                      sketch._WEIGHT, sketch._M_SIGMA, sketch._ALPHA_MM)
    NativeMemoryStorage = _native.NativeMemoryStorage


def _pure_python_asked() -> bool:
    return os.environ.get("ANTISCRAPE_PURE_PYTHON", "") not in ("", "0")


PURE_PYTHON = _pure_python_asked()
"""``ANTISCRAPE_PURE_PYTHON`` was set at import: the C functions stay unused."""

C: Any = None if PURE_PYTHON else _native
"""The extension module where its functions are to be used (built, not turned off), else
None: what modules with a C version of a function check at import."""


def native_available() -> bool:
    """Whether the extension is built and importable."""
    return _native is not None


def native_wanted() -> bool:
    """Whether the C versions are used: built, and not turned off by
    ``ANTISCRAPE_PURE_PYTHON`` (for the store, checked each time one is opened)."""
    return _native is not None and not _pure_python_asked()


def _decode_asgi_headers(pairs: Sequence[tuple[bytes, bytes]]) -> dict[str, str] | None:
    """``{name: value}`` of ASGI header pairs, decoded as latin-1 (every byte maps, so odd
    bytes never raise), or None when a name repeats (the caller folds those with
    :func:`~antiscrape.request.headers_from_pairs`)."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in pairs}
    return headers if len(headers) == len(pairs) else None


decode_asgi_headers = C.decode_headers if C is not None else _decode_asgi_headers
"""The C decoder when built (about half the cost), else the Python one: the same dict for
pairs of bytes. Other pairs (not ASGI) are the fold's: the C one answers None for them."""
