"""Hook implementations of the ``local`` backend (registered through core's entry point)."""

from __future__ import annotations

import shutil

from cooperbench.backend_status import BackendStatus
from cooperbench.local.sandbox import LocalSandbox
from cooperbench.markers import hookimpl
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.sandbox import Sandbox, SandboxRequest

BACKEND_NAME = "local"


@hookimpl
def create_sandbox(backend: str, request: SandboxRequest) -> Sandbox | None:
    """Create a private directory sandbox on the host."""
    if backend != BACKEND_NAME:
        return None
    return LocalSandbox.create(request)


@hookimpl
def check_backend(backend: str) -> BackendStatus | None:
    """The local backend needs only git and a POSIX shell on the host."""
    if backend != BACKEND_NAME:
        return None
    missing = [tool for tool in ("git", "sh") if shutil.which(tool) is None]
    if missing:
        return BackendStatus(False, f"missing on PATH: {', '.join(missing)}")
    return BackendStatus(True, "runs on the host without isolation")


@hookimpl
def setup_messaging(backend: str, request: MessagingRequest) -> MessagingSession | None:
    """Start a private Redis (unless ``--redis`` names one) and, with ``git``, a git daemon.

    Both listen on 127.0.0.1, which local sandboxes share with the host.
    """
    if backend != BACKEND_NAME:
        return None
    # Imported on use, so discovering plugins stays cheap.
    from cooperbench.local.messaging import setup_local_messaging

    return setup_local_messaging(request)
