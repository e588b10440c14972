"""Hook implementations of the ``docker`` backend (the module the entry point names).

Discovery imports this module for every command, so it imports nothing heavy: the
``docker`` SDK is imported inside the hooks, through the modules they call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cooperbench.markers import hookimpl

if TYPE_CHECKING:
    from cooperbench.backend_status import BackendStatus
    from cooperbench.messaging.types import MessagingRequest, MessagingSession
    from cooperbench.sandbox import Sandbox, SandboxRequest

BACKEND_NAME = "docker"


@hookimpl
def create_sandbox(backend: str, request: SandboxRequest) -> Sandbox | None:
    """Start a container from ``request.image`` (pulled or built when missing)."""
    if backend != BACKEND_NAME:
        return None
    from cooperbench_docker.sandbox import DockerSandbox

    return DockerSandbox.create(request)


@hookimpl
def check_backend(backend: str) -> BackendStatus | None:
    """Say whether the docker SDK imports and the daemon answers a ping."""
    if backend != BACKEND_NAME:
        return None
    from cooperbench_docker.status import check_docker

    return check_docker()


@hookimpl
def cleanup_resources(backend: str, dry_run: bool) -> Sequence[str] | None:
    """Remove containers and networks of cooperbench runs whose process is gone."""
    if backend != BACKEND_NAME:
        return None
    from cooperbench_docker.cleanup import cleanup_leftovers

    return cleanup_leftovers(dry_run=dry_run)


@hookimpl
def setup_messaging(backend: str, request: MessagingRequest) -> MessagingSession | None:
    """Start a per-run Docker network with Redis (unless ``--redis``) and a git daemon."""
    if backend != BACKEND_NAME:
        return None
    from cooperbench_docker.messaging import setup_docker_messaging

    return setup_docker_messaging(request)
