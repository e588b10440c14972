"""The Docker backend's options (``--backend-option KEY=VALUE``), declared and read.

``cpus``
    CPUs the container may use (default 2, or all CPUs of a smaller host; ``0`` for no
    limit). A value above the engine's CPU count is refused before any work.
``memory``
    Memory limit: bytes, or a size such as ``512m`` or ``4g`` (default ``4g``; ``0`` for
    no limit).
``pids_limit``
    Most processes the container may hold at once (default 1024; ``0`` or ``-1`` for no
    limit).
``network``
    Name of an existing Docker network to join (the message bus's network, set by
    ``run``), instead of what ``SandboxRequest.network`` alone would choose.
``build_args``
    Build arguments for building the image from the task's Dockerfile, for example
    ``BASE_IMAGE=cooperbench/base:bookworm`` (``--build-arg`` sets them one by one).
``pull``
    Whether to try pulling a missing image before building it (default true).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from cooperbench.plugin import (
    BackendOption,
    SandboxRequest,
    UsageError,
    option_values,
    parse_size,
)

DEFAULT_CPUS = 2.0
DEFAULT_MEMORY = "4g"
DEFAULT_PIDS_LIMIT = 1024
#: The smallest memory limit the engine accepts.
MIN_MEMORY = 6 * 1024 * 1024


def _cpus(value: Any) -> float:
    if isinstance(value, bool):
        raise UsageError("not a number")
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise UsageError("not a number such as 2 or 0.5") from None
    if cpus != 0 and cpus < 0.01:
        raise UsageError("must be 0 (no limit) or at least 0.01")
    return cpus


def _memory(value: Any) -> int:
    size = parse_size(value)
    if 0 < size < MIN_MEMORY:
        raise UsageError("Docker needs at least 6m (or 0 for no limit)")
    return size


def _pids_limit(value: Any) -> int:
    if isinstance(value, bool):
        raise UsageError("not an integer")
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise UsageError("not an integer") from None
    if limit < -1:
        raise UsageError("must be positive, or 0 or -1 for no limit")
    return limit


def _engine_has_cpus(cpus: float) -> str | None:
    """Refuse more CPUs than the engine's host has (the engine would refuse every start)."""
    from cooperbench_docker.client import connect
    from cooperbench_docker.container import host_cpus

    try:
        api = connect(timeout=5)
        try:
            available = host_cpus(api)
        finally:
            api.close()
    except Exception:  # noqa: BLE001 - an unreachable engine is reported by its own check
        return None
    if available and cpus > available:
        return f"{cpus:g} CPUs asked for, but the Docker engine's host has {available}"
    return None


OPTIONS = (
    BackendOption(
        "cpus",
        float,
        DEFAULT_CPUS,
        "CPUs per container (0: no limit; the default is capped by the host's CPUs).",
        parse=_cpus,
        check=_engine_has_cpus,
    ),
    BackendOption(
        "memory",
        str,
        DEFAULT_MEMORY,
        "Memory per container, e.g. 512m or 4g (0: no limit).",
        parse=_memory,
    ),
    BackendOption(
        "pids_limit",
        int,
        DEFAULT_PIDS_LIMIT,
        "Most processes per container (0 or -1: no limit).",
        parse=_pids_limit,
    ),
    BackendOption("network", str, None, "Existing Docker network the containers join."),
    BackendOption("build_args", dict, {}, "Build arguments for task images built here."),
    BackendOption("pull", bool, True, "Try pulling a missing image before building it."),
)


@attrs.frozen
class ContainerSettings:
    """How one sandbox container is limited and connected.

    ``cpus`` is ``None`` for no limit; ``cpus_explicit`` is False when the user did not
    choose (the host's CPU count then caps the default); ``network_mode`` is
    ``"none"``, ``"bridge"`` or a network name.
    """

    cpus: float | None
    cpus_explicit: bool
    memory_bytes: int | None
    pids_limit: int | None
    network_mode: str
    build_args: Mapping[str, str]
    pull: bool

    @classmethod
    def from_request(cls, request: SandboxRequest) -> ContainerSettings:
        """Read the options of ``request``; a bad value raises ``UsageError``."""
        if request.timeout < 1:
            raise UsageError(f"sandbox timeout must be at least 1 second, got {request.timeout}")
        values = option_values(OPTIONS, request.options)
        network = values["network"]
        return cls(
            cpus=values["cpus"] or None,
            cpus_explicit=request.options.get("cpus") is not None,
            memory_bytes=values["memory"] or None,
            pids_limit=values["pids_limit"] if values["pids_limit"] > 0 else None,
            network_mode=network or ("bridge" if request.network else "none"),
            build_args=values["build_args"],
            pull=values["pull"],
        )

    def nano_cpus(self, host_cpus: int | None) -> int | None:
        """The CPU limit in the API's unit; a default larger than the host is capped."""
        if self.cpus is None:
            return None
        cpus = self.cpus
        if not self.cpus_explicit and host_cpus:
            cpus = min(cpus, float(host_cpus))
        return int(cpus * 1_000_000_000)
