"""Hook implementations of the ``modal`` backend (the module the entry point names).

Discovery imports this module for every command, so it imports nothing heavy: the
``modal`` SDK is imported inside the hooks, through the modules they call.
"""

from __future__ import annotations

from cooperbench.plugin import (
    BackendOption,
    BackendStatus,
    MessagingRequest,
    MessagingSession,
    Sandbox,
    SandboxRequest,
    hookimpl,
)
from cooperbench_modal.options import OPTIONS


@hookimpl
def create_sandbox(request: SandboxRequest) -> Sandbox:
    """Start a Modal sandbox from ``request.image`` (pulled by Modal from its registry)."""
    from cooperbench_modal.sandbox import ModalSandbox

    return ModalSandbox.create(request)


@hookimpl
def check_backend() -> BackendStatus:
    """Say whether the modal SDK imports, a token is set and the server answers."""
    from cooperbench_modal.status import check_modal

    return check_modal()


@hookimpl
def backend_options() -> list[BackendOption]:
    """App and environment, sandbox size, creation pacing, start-ahead scheduling."""
    return list(OPTIONS)


@hookimpl
def cleanup_resources(dry_run: bool) -> list[str]:
    """Terminate sandboxes of cooperbench runs whose process is gone."""
    from cooperbench_modal.cleanup import cleanup_leftovers

    return cleanup_leftovers(dry_run=dry_run)


@hookimpl
def setup_messaging(request: MessagingRequest) -> MessagingSession:
    """Start Redis (unless ``--redis``) and, with ``--git``, a git daemon in Modal
    sandboxes that the agents reach through Modal tunnels."""
    from cooperbench_modal.messaging import setup_modal_messaging

    return setup_modal_messaging(request)
