"""Waiting on 127.0.0.1 ports, for tests of servers that must start and stop."""

from __future__ import annotations

import socket
import time


def port_open(port: int) -> bool:
    """True when something accepts connections on ``port`` of 127.0.0.1."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_closed(port: int, seconds: float = 10) -> bool:
    """Wait until nothing accepts connections on ``port``; False if something still does."""
    deadline = time.monotonic() + seconds
    while port_open(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
