"""Hook implementations of the ``docker`` backend (the module the entry point names).

Discovery imports this module for every command, so it imports nothing heavy: the
``docker`` SDK is imported inside the hooks, through the modules they call.
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
from cooperbench_docker.options import OPTIONS


@hookimpl
def create_sandbox(request: SandboxRequest) -> Sandbox:
    """Start a container from ``request.image`` (pulled or built when missing)."""
    from cooperbench_docker.sandbox import DockerSandbox

    return DockerSandbox.create(request)


@hookimpl
def check_backend() -> BackendStatus:
    """Say whether the docker SDK imports and the daemon answers a ping."""
    from cooperbench_docker.status import check_docker

    return check_docker()


@hookimpl
def backend_options() -> list[BackendOption]:
    """Resource limits, the network to join, image build arguments, pulling."""
    return list(OPTIONS)


@hookimpl
def cleanup_resources(dry_run: bool) -> list[str]:
    """Remove containers and networks of cooperbench runs whose process is gone."""
    from cooperbench_docker.cleanup import cleanup_leftovers

    return list(cleanup_leftovers(dry_run=dry_run))


@hookimpl
def setup_messaging(request: MessagingRequest) -> MessagingSession:
    """Start a per-pair Docker network with Redis (unless ``--redis``) and a git daemon."""
    from cooperbench_docker.messaging import setup_docker_messaging

    return setup_docker_messaging(request)
