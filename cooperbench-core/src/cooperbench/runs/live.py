"""What a run has open right now, so an interrupt can tear all of it down."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable


def once(close: Callable[[], None]) -> Callable[[], None]:
    """Wrap ``close`` so it runs once, even when two threads call it together.

    A second caller waits for the first to finish, so after either call returns the
    resource is gone.
    """
    lock = threading.Lock()
    done = False

    def run_once() -> None:
        nonlocal done
        with lock:
            if done:
                return
            done = True
            close()

    return run_once


class LiveResources:
    """Teardown functions of every open sandbox and messaging session of a run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, Callable[[], None]] = {}
        self._next = 0
        self._closing = False

    def add(self, close: Callable[[], None]) -> Callable[[], None]:
        """Track ``close``; returns a once-only closer that also stops the tracking.

        After :meth:`close_all` a resource is closed as soon as it is added: a sandbox
        that was still starting when the run was interrupted must not outlive it.
        """
        closer = once(close)
        with self._lock:
            closing = self._closing
            token = self._next
            self._next += 1
            if not closing:
                self._open[token] = closer
        if closing:
            closer()

        def close_and_forget() -> None:
            closer()
            with self._lock:
                self._open.pop(token, None)

        return close_and_forget

    def close_all(self) -> None:
        """Run every tracked teardown (sandboxes first: they may use the sessions)."""
        with self._lock:
            self._closing = True
            closers = list(self._open.values())
        for closer in closers:
            # Keep tearing down the others whatever one of them raises.
            with contextlib.suppress(Exception):
                closer()
