"""The agent contract: what an agent receives (:class:`AgentTask`) and returns.

An agent plugin is any object with a ``run(task: AgentTask) -> AgentResult`` method (a
module with a top-level ``run`` function works). It may also define
``check(options: AgentOptions) -> None`` to reject bad options before a run starts.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from cooperbench.dataset import Task
from cooperbench.sandbox import Sandbox
from cooperbench.sandbox_paths import REPO_DIR

SUBMITTED = "Submitted"
ERROR = "Error"
LIMITS_EXCEEDED = "LimitsExceeded"
STATUSES = (SUBMITTED, ERROR, LIMITS_EXCEEDED)


@attrs.frozen
class AgentOptions:
    """The user's agent settings for a whole run (``-m``, ``--agent-config``, ...)."""

    model: str | None = None
    config: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    command: str | None = None
    timeout: int = 3600


def _copy_env(value: Mapping[str, str]) -> dict[str, str]:
    """A private copy of a mapping of strings, so a frozen value stays unchanged."""
    return dict(value)


@attrs.frozen
class AgentTask:
    """Everything one agent gets for one pair.

    ``agent_id`` is ``agent1``, ``agent2``, ... in feature order (``solo`` in the solo
    setting); ``feature_ids`` are the features this agent implements (one in coop, all in
    solo). ``redis_url``/``git_url`` are ``None`` without messaging / without ``--git``;
    ``env`` holds the variables the user gave the run (``--env``, ``--pass-env``) and
    those the messaging tools need: pass it to every command.
    ``cancel`` is set when the run is interrupted: long-running agents should stop.
    """

    run_name: str
    setting: str
    agent_id: str
    feature_ids: tuple[int, ...]
    partner_ids: tuple[str, ...]
    task_text: str
    task: Task
    sandbox: Sandbox
    base_commit: str
    options: AgentOptions
    redis_url: str | None = None
    git_url: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict, converter=_copy_env)
    repo_dir: str = REPO_DIR
    cancel: threading.Event = attrs.field(factory=threading.Event, eq=False)

    @property
    def feature_id(self) -> int:
        """The (first) feature this agent implements."""
        return self.feature_ids[0]

    @property
    def model(self) -> str | None:
        """The model name from ``-m``, passed through untouched."""
        return self.options.model

    @property
    def config(self) -> Mapping[str, Any]:
        """The parsed ``--agent-config`` file (empty without one)."""
        return self.options.config

    @property
    def messaging(self) -> bool:
        """True when the agent can message its partners."""
        return self.redis_url is not None


@attrs.frozen
class AgentResult:
    """What an agent produced: its status, its patch and what it cost.

    ``error_kind`` is ``None`` when an ``Error`` is the agent's own failure and
    :data:`~cooperbench.errors.INFRASTRUCTURE` when the harness failed it (its sandbox or
    messaging never started): such a pair has no verdict and runs again next time.
    ``logs`` names log files the agent left in its sandbox (file name, e.g.
    ``stdout.log``, to sandbox path); the harness copies the end of each into the pair
    folder before the sandbox goes away.
    """

    status: str = attrs.field(validator=attrs.validators.in_(STATUSES))
    patch: str = ""
    cost: float = 0.0
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    trajectory: list[dict[str, Any]] = attrs.field(factory=list)
    messages_sent: int = 0
    error: str | None = None
    error_kind: str | None = None
    logs: Mapping[str, str] = attrs.field(factory=dict, converter=_copy_env)

    @classmethod
    def failed(
        cls,
        error: str,
        trajectory: list[dict[str, Any]] | None = None,
        *,
        kind: str | None = None,
    ) -> AgentResult:
        """An ``Error`` result with ``error`` as the reason (``kind``: see ``error_kind``)."""
        return cls(ERROR, error=error, trajectory=list(trajectory or []), error_kind=kind)


@runtime_checkable
class Agent(Protocol):
    """An agent plugin."""

    def run(self, task: AgentTask) -> AgentResult:
        """Work on ``task`` in ``task.sandbox`` and return the result."""
        ...
