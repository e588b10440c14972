"""The backend's options (``--backend-option KEY=VALUE``).

The Google Cloud settings (``project``, ``region``, ``zone``, ``bucket``,
``machine_type``, ``boot_image``, ``service_account``, ``network``, ``subnetwork``)
override their environment variables and the config file (see
:mod:`cooperbench_gcp.config`). Two more shape the batch itself:

``poll_interval``
    Seconds between looks at the running jobs (default 10).
``max_retries``
    Times Batch retries a task lost to the platform (a preempted or lost VM) before
    the pair is an infrastructure error (0 to 10, default 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cooperbench.plugin import BackendOption, UsageError
from cooperbench_gcp.config import SETTINGS

DEFAULT_POLL_INTERVAL = 10.0
DEFAULT_MAX_RETRIES = 2


def _poll_interval(value: Any) -> float:
    seconds = float(value)
    if not 0.05 <= seconds <= 600:
        raise UsageError("use between 0.05 and 600 seconds")
    return seconds


def _max_retries(value: Any) -> int:
    if isinstance(value, bool):
        raise UsageError("not a whole number")
    retries = int(value)
    if not 0 <= retries <= 10:
        raise UsageError("Batch allows 0 to 10 retries")
    return retries


OPTIONS = (
    *(
        BackendOption(s.name, str, s.default or None, f"{s.help} Environment: {s.env}.")
        for s in SETTINGS
    ),
    BackendOption(
        "poll_interval",
        float,
        DEFAULT_POLL_INTERVAL,
        "Seconds between looks at the running jobs.",
        parse=_poll_interval,
    ),
    BackendOption(
        "max_retries",
        int,
        DEFAULT_MAX_RETRIES,
        "Retries of a task lost to the platform (preempted or lost VM), 0 to 10.",
        parse=_max_retries,
    ),
)


def batch_settings(options: Mapping[str, Any]) -> tuple[float, int]:
    """The poll interval and retry count from the checked ``options``."""
    return (
        float(options.get("poll_interval", DEFAULT_POLL_INTERVAL)),
        int(options.get("max_retries", DEFAULT_MAX_RETRIES)),
    )
