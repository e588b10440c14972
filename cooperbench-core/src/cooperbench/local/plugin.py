"""Hook implementations of the ``local`` backend (registered through core's entry point)."""

from __future__ import annotations

import shutil

from cooperbench.plugin import (
    BackendStatus,
    LocalSandbox,
    MessagingRequest,
    MessagingSession,
    SandboxRequest,
    hookimpl,
)


@hookimpl
def create_sandbox(request: SandboxRequest) -> LocalSandbox:
    """Create a private directory sandbox on the host."""
    return LocalSandbox.create(request)


@hookimpl
def check_backend() -> BackendStatus:
    """The local backend needs only git and a POSIX shell on the host."""
    missing = [tool for tool in ("git", "sh") if shutil.which(tool) is None]
    if missing:
        return BackendStatus(False, f"missing on PATH: {', '.join(missing)}")
    return BackendStatus(True, "runs on the host without isolation")


@hookimpl
def setup_messaging(request: MessagingRequest) -> MessagingSession:
    """Start a private Redis (unless ``--redis`` names one) and, with ``git``, a git daemon.

    Both listen on 127.0.0.1, which local sandboxes share with the host.
    """
    # Imported on use, so discovering plugins stays cheap.
    from cooperbench.local.messaging import setup_local_messaging

    return setup_local_messaging(request)
