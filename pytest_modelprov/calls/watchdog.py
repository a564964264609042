"""A pytest-xdist worker stops when its controller is gone.

A SIGKILLed controller (a CI job cancelled, an OOM kill) leaves its workers running: each
goes on through its share of the tests and pays for every call on the way, with nobody left
to report to. A worker notices that its parent process changed (it was re-parented to init
or a subreaper), starts no new model call, lets the calls in flight store their answers
for a moment, and exits.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

#: set once the controller is gone: the client starts no new attempt
HALTED = threading.Event()
_started = False
_lock = threading.Lock()


def watch_parent(
    *, interval: float = 0.25, grace: float = 2.0, exit: Callable[[int], object] = os._exit
) -> bool:
    """Start the watcher thread of this process (once); False if it already runs."""
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        HALTED.set()
        with_note = f"modelprov: the pytest-xdist controller (pid {parent}) is gone; "
        print(with_note + "this worker stops.", file=sys.__stderr__, flush=True)
        time.sleep(grace)  # answers in flight are stored (each write is one transaction)
        exit(70)

    threading.Thread(target=watch, name="modelprov-watchdog", daemon=True).start()
    return True
