"""Progress of long steps inside a backend (image pulls and builds), sent over logging.

A backend reports a step with :func:`report_step`; whoever shows progress (the CLI)
listens on the :data:`PROGRESS_LOGGER` logger and reads the event back with
:func:`step_of`. Logging is the channel because it already crosses every layer and
thread without plumbing: a backend needs no callback passed down to its sandboxes, and
nothing is sent unless someone enabled the logger. Plain ``logging`` consumers see an
ordinary line (``build myimage:task0: step 3/9``).
"""

from __future__ import annotations

import logging

import attrs

#: The logger progress events travel on (disabled unless a listener enables INFO).
PROGRESS_LOGGER = "cooperbench.progress"

STARTED = "started"
ADVANCED = "advanced"
FINISHED = "finished"
FAILED = "failed"
#: Every ``StepEvent.state``.
STEP_STATES = (STARTED, ADVANCED, FINISHED, FAILED)

_EXTRA_KEY = "cooperbench_step"


@attrs.frozen
class StepEvent:
    """One update of a long step, e.g. ``StepEvent("build", "img:task0", "advanced", 3, 9)``.

    ``kind`` names the step (``build``, ``pull``); ``subject`` what it works on (an
    image); ``completed``/``total`` are units of the step's own (build steps, bytes) when
    the backend knows them; ``detail`` is a short line (the current build instruction,
    or why the step failed).
    """

    kind: str
    subject: str
    state: str = attrs.field(validator=attrs.validators.in_(STEP_STATES))
    completed: float | None = None
    total: float | None = None
    detail: str = ""

    def describe(self) -> str:
        """One line for plain logs."""
        amount = ""
        if self.completed is not None and self.total:
            amount = f" {self.completed:g}/{self.total:g}"
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.subject}: {self.state}{amount}{tail}"


def report_step(event: StepEvent) -> None:
    """Send ``event`` to whoever listens; costs one level check when nobody does."""
    logger = logging.getLogger(PROGRESS_LOGGER)
    if logger.isEnabledFor(logging.INFO):
        logger.info("%s", event.describe(), extra={_EXTRA_KEY: event})


def step_of(record: logging.LogRecord) -> StepEvent | None:
    """The event a progress log record carries, or ``None`` for any other record."""
    event = getattr(record, _EXTRA_KEY, None)
    return event if isinstance(event, StepEvent) else None
