"""The Docker-specific sandbox options (``SandboxRequest.options``), validated.

Recognised keys (every other key belongs to another backend and is ignored):

``cpus``
    CPUs the container may use (float; default 2, or all CPUs of a smaller host;
    ``None`` or ``0`` for no limit).
``memory``
    Memory limit: bytes, or a string such as ``"512m"`` or ``"4g"`` (default ``"4g"``;
    ``None`` or ``0`` for no limit).
``pids_limit``
    Most processes the container may hold at once (default 1024; ``None``, ``0`` or
    ``-1`` for no limit).
``network``
    Name of an existing Docker network to join (for example the one the message bus
    runs on), instead of what ``SandboxRequest.network`` alone would choose.
``build_args``
    Build arguments for building the image from the task's Dockerfile, for example
    ``{"BASE_IMAGE": "cooperbench/base:bookworm"}``.
``pull``
    Whether to try pulling a missing image before building it (default ``True``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from cooperbench.errors import UsageError
from cooperbench.sandbox import SandboxRequest

DEFAULT_CPUS = 2.0
DEFAULT_MEMORY = "4g"
DEFAULT_PIDS_LIMIT = 1024

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@attrs.frozen
class ContainerSettings:
    """How one sandbox container is limited and connected.

    ``cpus`` is ``None`` when the caller did not choose (the host's CPU count then
    caps the default); ``network_mode`` is ``"none"``, ``"bridge"`` or a network name.
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
        """Read and check the options of ``request``; a bad value raises ``UsageError``."""
        options = request.options
        if request.timeout < 1:
            raise UsageError(f"sandbox timeout must be at least 1 second, got {request.timeout}")
        cpus_explicit = "cpus" in options
        return cls(
            cpus=_cpus(options.get("cpus", DEFAULT_CPUS)),
            cpus_explicit=cpus_explicit,
            memory_bytes=_memory(options.get("memory", DEFAULT_MEMORY)),
            pids_limit=_pids_limit(options.get("pids_limit", DEFAULT_PIDS_LIMIT)),
            network_mode=_network_mode(request.network, options.get("network")),
            build_args=_build_args(options.get("build_args")),
            pull=bool(options.get("pull", True)),
        )

    def nano_cpus(self, host_cpus: int | None) -> int | None:
        """The CPU limit in the API's unit; a default larger than the host is capped."""
        if self.cpus is None:
            return None
        cpus = self.cpus
        if not self.cpus_explicit and host_cpus:
            cpus = min(cpus, float(host_cpus))
        return int(cpus * 1_000_000_000)


def parse_size(value: str | int) -> int:
    """Bytes in ``value``: an integer, or a string like ``"512m"``, ``"4g"``, ``"1.5GiB"``."""
    if isinstance(value, bool):
        raise UsageError(f"option memory: expected a size such as '4g', got {value!r}")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if match is None:
        raise UsageError(f"option memory: expected a size such as '4g' or '512m', got {value!r}")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower()])


def _cpus(value: Any) -> float | None:
    if value is None or value == 0:
        return None
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"option cpus: expected a number such as 2 or 0.5, got {value!r}"
        ) from None
    if cpus < 0.01:
        raise UsageError(f"option cpus: must be at least 0.01, got {value!r}")
    return cpus


def _memory(value: Any) -> int | None:
    if value is None or value == 0:
        return None
    size = parse_size(value)
    if size < 6 * 1024 * 1024:
        raise UsageError(f"option memory: Docker needs at least 6m, got {value!r}")
    return size


def _pids_limit(value: Any) -> int | None:
    if value is None or value in (0, -1):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"option pids_limit: expected a positive integer, got {value!r}")
    return value


def _network_mode(network: bool, named: Any) -> str:
    if named is not None:
        if not isinstance(named, str) or not named:
            raise UsageError(f"option network: expected a Docker network name, got {named!r}")
        return named
    return "bridge" if network else "none"


def _build_args(value: Any) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"option build_args: expected a mapping of names to values, got {value!r}")
    return {str(key): str(item) for key, item in value.items()}
