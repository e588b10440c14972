"""Spacing out sandbox creations, so a large eval does not hit Modal's rate limits.

One limiter per process and rate: every creation takes the next free slot, slots
``1 / rate`` seconds apart, and waits for it. Creations from all threads share it.
"""

from __future__ import annotations

import threading
import time


class CreationLimiter:
    """At most ``rate`` creations start per second (``0``: no limit)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = 0.0

    def wait_for_slot(self) -> float:
        """Block until this caller may create; return the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
        delay = slot - now
        if delay > 0:
            time.sleep(delay)
        return delay


_limiters: dict[float, CreationLimiter] = {}
_limiters_lock = threading.Lock()


def limiter(rate: float) -> CreationLimiter:
    """The process-wide limiter for ``rate`` creations per second."""
    with _limiters_lock:
        return _limiters.setdefault(rate, CreationLimiter(rate))
