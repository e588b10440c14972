"""Labels that say which run owns a sandbox, so leftovers can be found and removed.

Every backend that can label its resources (containers, cloud sandboxes) attaches
these; ``cooperbench cleanup`` uses the owner fields to tell a live run's resources
from those of a run whose process is gone.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

LABEL_PREFIX = "cooperbench."
MANAGED = f"{LABEL_PREFIX}managed"
RUN = f"{LABEL_PREFIX}run"
OWNER_PID = f"{LABEL_PREFIX}owner-pid"
OWNER_HOST = f"{LABEL_PREFIX}owner-host"
CREATED = f"{LABEL_PREFIX}created"
PURPOSE = f"{LABEL_PREFIX}purpose"


def owner_labels(run: str | None = None, purpose: str | None = None) -> dict[str, str]:
    """Labels naming this process as the owner, plus the run and purpose when known."""
    labels = {
        MANAGED: "true",
        OWNER_PID: str(os.getpid()),
        OWNER_HOST: socket.gethostname(),
        CREATED: f"{time.time():.0f}",
    }
    if run:
        labels[RUN] = run
    if purpose:
        labels[PURPOSE] = purpose
    return labels


def owner_is_alive(labels: Mapping[str, str]) -> bool:
    """True unless ``labels`` name an owner process on this host that no longer exists.

    Resources owned by another host are treated as alive: this machine cannot tell.
    """
    if labels.get(OWNER_HOST) != socket.gethostname():
        return True
    try:
        pid = int(labels.get(OWNER_PID, ""))
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True
