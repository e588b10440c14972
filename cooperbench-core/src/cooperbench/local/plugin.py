"""Hook implementations of the ``local`` backend (registered through core's entry point)."""

from __future__ import annotations

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
    """Say whether the host has what task runners need: sh, git, python3 with pytest."""
    from cooperbench.local.requirements import missing_requirements

    missing = missing_requirements()
    if missing:
        return BackendStatus(False, f"missing on the host: {'; '.join(missing)}")
    return BackendStatus(True, "runs on the host without isolation")


@hookimpl
def cleanup_resources(dry_run: bool) -> list[str]:
    """Remove sandbox and server folders of local runs whose process is gone."""
    from cooperbench.local.cleanup import cleanup_leftovers

    return cleanup_leftovers(dry_run=dry_run)


@hookimpl
def setup_messaging(request: MessagingRequest) -> MessagingSession:
    """Start a private Redis (unless ``--redis`` names one) and, with ``git``, a git daemon.

    Both listen on 127.0.0.1, which local sandboxes share with the host.
    """
    # Imported on use, so discovering plugins stays cheap.
    from cooperbench.local.messaging import setup_local_messaging

    return setup_local_messaging(request)
