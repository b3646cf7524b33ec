"""The garbage-collector policy of a gopc process (the session applies it; see compiler/session.py).

`collect_as(kind)` sets the thresholds for a command-line run or the language server,
`ANALYSIS_PAUSE` keeps the cyclic collector off while at least one analysis runs, in any thread,
`serving_builds()` turns it off for good in the build server, which holds the pause over whole
builds (analysis, lowering, writing), `settle(full)` collects what a build left once its result is
out and freezes the survivors, and `imports_kept()` keeps the collector off while the language
server imports its modules and out of the objects they made afterwards.
Here, not in session.py, because the CLI sets the thresholds before it knows whether the command
needs the compiler at all (`gopc --version` must not import it). Process-wide, as the collector is.
"""

from __future__ import annotations

import contextlib
import gc
import threading

_THRESHOLDS = {"command": (200_000, 30, 30), "server": (50_000, 20, 100)}


def collect_as(process: str) -> None:
    """Set the collector's thresholds for the kind of process this is:
    - "command": one run that allocates many small objects and few cycles: collect rarely (as mypy does);
    - "server": the language server keeps hundreds of thousands of long-lived objects (trees,
      analyses): collecting the young generation less often cuts analysis time by a fifth to a
      third (measured on bench/lsp_bench.py's fleet)."""
    gc.set_threshold(*_THRESHOLDS[process])


@contextlib.contextmanager
def imports_kept():
    """Around the language server's imports (the protocol's 550 classes, the compiler): they make
    long-lived objects and no garbage, so the collector, off meanwhile, would find nothing (its
    collections were a sixth of those imports); and the objects are frozen after (`gc.freeze`),
    kept out of every later collection of the long-running process."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
    gc.freeze()


def serving_builds() -> None:
    """The build server (`commands.serve`) keeps its sessions' objects, millions of them, between
    builds: a collection in the middle of a build would scan them and cost a client a good part of
    its wait. So its collector never runs by itself: the server settles the session that built
    (`Session.settle`) once the build's reply is sent."""
    gc.disable()


# A session that builds again finds the garbage cycles among what it froze every this many builds.
FULL_COLLECTION_EVERY = 16


def settle(full: bool) -> None:
    """Once a build's result is out, in a session that builds again (a build server): collect what
    the build left and freeze the survivors, so that no collection during the next build scans what
    the session keeps (its memos, the parse trees, the last analyses: millions of objects, whose
    scan took 0.3-0.5 s of a 0.1 s lowering at (1000,3,60)); the collection then scans only what one
    build made. Frozen objects are still freed when no longer referenced, except cycles: `full`
    unfreezes everything first, so that collection finds those too (0.4-0.5 s at that size)."""
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


class _CollectorPause:
    """Keeps the cyclic collector off while at least one analysis runs, in any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0 and self._was_enabled:
                gc.enable()


ANALYSIS_PAUSE = _CollectorPause()
