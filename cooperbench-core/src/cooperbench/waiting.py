"""Waiting for worker threads without making the main thread deaf to Ctrl-C."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, wait

#: Longest stretch the main thread blocks before it looks at the cancel event again.
SLICE_SECONDS = 0.2


def wait_for(futures: Iterable[Future[None]], cancel: threading.Event) -> None:
    """Return as soon as every future is done; raise the first failure when it happens.

    Blocking in short slices lets the main thread take Ctrl-C and SIGTERM promptly.
    :class:`KeyboardInterrupt` is raised once ``cancel`` is set (by another thread),
    also when the workers wound down by themselves because of it.
    """
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=SLICE_SECONDS, return_when=FIRST_EXCEPTION)
        for future in done:
            if not future.cancelled() and (failure := future.exception()) is not None:
                raise failure
        if cancel.is_set():
            raise KeyboardInterrupt
