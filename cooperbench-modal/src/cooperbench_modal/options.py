"""The Modal backend's options (``--backend-option KEY=VALUE``), declared and read.

``app``
    Name of the Modal app the sandboxes belong to (created when missing; default
    ``cooperbench``). ``cooperbench cleanup`` looks for leftovers in it.
``environment``
    Modal environment of that app (default ``cooperbench``, created when missing; any
    other environment must exist already, so a misspelt name is an error, not a new
    environment). ``cooperbench cleanup`` looks for leftovers in
    ``cooperbench``.
``cpu``
    CPU cores requested per sandbox (default 2; ``0`` leaves it to Modal).
``memory``
    Memory requested per sandbox: bytes, or a size such as ``512m`` or ``4g`` (default
    ``4g``; ``0`` leaves it to Modal).
``creations_per_second``
    Most sandboxes this process starts creating per second (default 4; ``0`` for no
    limit), so hundreds of pairs do not hit Modal's rate limits at once.
``create_retries``
    How often creating a sandbox is retried after a transient failure (default 4),
    with exponential backoff.
``start_timeout``
    Seconds a created sandbox has to become ready (default 300); one that does not is
    terminated and its pair becomes an infrastructure error, retried by the next eval.
``start_ahead``
    Start the sandbox of a worker's next pair while its current pair is evaluated
    (default false): faster, but ``-c N`` then holds up to 2N sandboxes, which Modal
    bills and limits. Off, ``-c N`` means at most N sandboxes alive at once.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from cooperbench.plugin import (
    BackendOption,
    SandboxRequest,
    UsageError,
    option_values,
    parse_size,
)

DEFAULT_APP = "cooperbench"
DEFAULT_ENVIRONMENT = "cooperbench"
DEFAULT_CPU = 2.0
DEFAULT_MEMORY = "4g"
DEFAULT_CREATIONS_PER_SECOND = 4.0
DEFAULT_CREATE_RETRIES = 4
DEFAULT_START_TIMEOUT = 300
#: The option core reads to decide whether eval workers start sandboxes ahead.
START_AHEAD = "start_ahead"

_MIB = 1024 * 1024
_APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise UsageError("not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError("not a number such as 2 or 0.5") from None


def _cpu(value: Any) -> float:
    cpu = _number(value)
    if cpu != 0 and cpu < 0.125:
        raise UsageError("must be 0 (Modal's default) or at least 0.125")
    return cpu


def _memory(value: Any) -> int:
    size = parse_size(value)
    if 0 < size < _MIB:
        raise UsageError("must be 0 (Modal's default) or at least 1m")
    return size


def _rate(value: Any) -> float:
    rate = _number(value)
    if rate < 0:
        raise UsageError("must be 0 (no limit) or positive")
    return rate


def _count(value: Any) -> int:
    if isinstance(value, bool):
        raise UsageError("not an integer")
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise UsageError("not an integer") from None
    if count < 0:
        raise UsageError("must not be negative")
    return count


def _seconds(value: Any) -> int:
    seconds = _count(value)
    if seconds < 1:
        raise UsageError("must be at least 1 second")
    return seconds


def _app(value: Any) -> str:
    if not isinstance(value, str) or not _APP_NAME.match(value):
        raise UsageError("an app name is letters, digits, '.', '_' and '-' (at most 64)")
    return value


def _environment(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError("an environment name must not be empty")
    return value.strip()


def check_environment(name: str) -> str | None:
    """Why the environment ``name`` cannot be used (not the default, and it does not
    exist), else ``None``.

    Asked before any work starts. Without a token or a reachable server it says
    nothing: the backend's own check reports those.
    """
    from cooperbench_modal.client import missing_environment

    return missing_environment(name)


OPTIONS = (
    BackendOption(
        "app", str, DEFAULT_APP, "Modal app the sandboxes belong to (made if missing).", parse=_app
    ),
    BackendOption(
        "environment",
        str,
        DEFAULT_ENVIRONMENT,
        "Modal environment of the app (cooperbench is made if missing; another must exist).",
        parse=_environment,
        check=check_environment,
    ),
    BackendOption(
        "cpu", float, DEFAULT_CPU, "CPU cores per sandbox (0: Modal's default).", parse=_cpu
    ),
    BackendOption(
        "memory",
        str,
        DEFAULT_MEMORY,
        "Memory per sandbox, e.g. 512m or 4g (0: Modal's default).",
        parse=_memory,
    ),
    BackendOption(
        "creations_per_second",
        float,
        DEFAULT_CREATIONS_PER_SECOND,
        "Most sandbox creations started per second (0: no limit).",
        parse=_rate,
    ),
    BackendOption(
        "create_retries",
        int,
        DEFAULT_CREATE_RETRIES,
        "Retries of a transient failure to create a sandbox, with backoff.",
        parse=_count,
    ),
    BackendOption(
        "start_timeout",
        int,
        DEFAULT_START_TIMEOUT,
        "Seconds a new sandbox has to become ready.",
        parse=_seconds,
    ),
    BackendOption(
        START_AHEAD,
        bool,
        False,
        "Start each eval worker's next sandbox early (-c N may then hold 2N sandboxes).",
    ),
)


@attrs.frozen
class SandboxSettings:
    """How one Modal sandbox is placed and sized.

    ``cpu`` and ``memory_mib`` are ``None`` to leave the choice to Modal;
    ``creations_per_second`` is ``0`` for no limit.
    """

    app: str
    environment: str
    cpu: float | None
    memory_mib: int | None
    creations_per_second: float
    create_retries: int
    start_timeout: int

    @classmethod
    def from_request(cls, request: SandboxRequest) -> SandboxSettings:
        """Read the options of ``request``; a bad value raises ``UsageError``."""
        if request.timeout < 1:
            raise UsageError(f"sandbox timeout must be at least 1 second, got {request.timeout}")
        values = option_values(OPTIONS, request.options)
        memory = values["memory"]
        return cls(
            app=values["app"],
            environment=values["environment"],
            cpu=values["cpu"] or None,
            memory_mib=max(1, memory // _MIB) if memory else None,
            creations_per_second=values["creations_per_second"],
            create_retries=values["create_retries"],
            start_timeout=values["start_timeout"],
        )
