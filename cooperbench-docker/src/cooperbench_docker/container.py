"""Starting and removing the container behind a sandbox.

The image's entrypoint is replaced by ``sleep <timeout>`` under Docker's init process:
the container ends by itself when the sandbox's lifetime has passed (and is then
removed by the daemon), so a killed harness leaves nothing running for long, and
processes killed inside it are reaped.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

from cooperbench.plugin import SandboxRequest
from cooperbench.plugin import labels as cb_labels
from cooperbench_docker.client import docker_errors, is_conflict, is_not_found
from cooperbench_docker.options import ContainerSettings

#: Value of the ``cooperbench.purpose`` label when the request names none.
DEFAULT_PURPOSE = "sandbox"

_host_cpus: dict[str, int] = {}
_host_cpus_lock = threading.Lock()


def container_labels(request: SandboxRequest) -> dict[str, str]:
    """The request's labels plus the owner labels that ``cooperbench cleanup`` relies on."""
    owner = cb_labels.owner_labels(
        run=request.labels.get(cb_labels.RUN),
        purpose=request.labels.get(cb_labels.PURPOSE) or DEFAULT_PURPOSE,
    )
    # The owner fields always describe this process, whatever the request says.
    return {**request.labels, **owner}


def container_name(request: SandboxRequest) -> str:
    """A readable, unique name: ``cooperbench-<run>-<random>``."""
    run = re.sub(r"[^a-zA-Z0-9_.-]+", "-", request.labels.get(cb_labels.RUN, "")).strip("-.")
    middle = f"{run[:40]}-" if run else ""
    return f"cooperbench-{middle}{uuid.uuid4().hex[:10]}"


def host_cpus(api: Any) -> int | None:
    """How many CPUs the daemon's host has (asked once per daemon)."""
    key = str(api.base_url)
    with _host_cpus_lock:
        if key in _host_cpus:
            return _host_cpus[key]
    with docker_errors("asking the Docker daemon for its CPU count"):
        count = int(api.info().get("NCPU") or 0)
    if count <= 0:
        return None
    with _host_cpus_lock:
        _host_cpus[key] = count
    return count


def start_container(
    api: Any, request: SandboxRequest, settings: ContainerSettings
) -> tuple[str, float]:
    """Create and start the sandbox container; return its id and lifetime deadline.

    The deadline is taken on the monotonic clock just before the container starts, so
    it never falls after the moment the container stops by itself.
    """
    nano_cpus = settings.nano_cpus(host_cpus(api) if settings.cpus is not None else None)
    limits: dict[str, Any] = {}
    if nano_cpus is not None:
        limits["nano_cpus"] = nano_cpus
    if settings.memory_bytes is not None:
        limits["mem_limit"] = settings.memory_bytes
    if settings.pids_limit is not None:
        limits["pids_limit"] = settings.pids_limit
    with docker_errors(f"creating a container from image {request.image}"):
        host_config = api.create_host_config(
            init=True,
            auto_remove=True,
            network_mode=settings.network_mode,
            **limits,
        )
        created = api.create_container(
            request.image,
            entrypoint=["sleep", str(int(request.timeout))],
            working_dir=request.workdir,
            environment=dict(request.env),
            labels=container_labels(request),
            name=container_name(request),
            host_config=host_config,
            detach=True,
        )
    container_id = str(created["Id"])
    try:
        deadline = time.monotonic() + request.timeout
        with docker_errors(f"starting a container from image {request.image}"):
            api.start(container_id)
    except BaseException:
        remove_container(api, container_id)
        raise
    return container_id, deadline


def remove_container(api: Any, container_id: str) -> bool:
    """Force-remove a container; return False when it was already gone."""
    with docker_errors(f"removing container {container_id[:12]}"):
        try:
            api.remove_container(container_id, force=True)
        except Exception as exc:
            # Gone already, or the daemon is removing it (auto-remove at its lifetime).
            if is_not_found(exc) or is_conflict(exc):
                return False
            raise
    return True
