"""The settings of one ``cooperbench run`` invocation and how they are checked."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from cooperbench.agents.types import AgentOptions
from cooperbench.errors import UsageError
from cooperbench.evaluation.types import DEFAULT_TEST_TIMEOUT
from cooperbench.messaging.url import redacted_repr

SETTINGS = ("coop", "solo")


@attrs.frozen
class RunConfig:
    """Everything the pairs of one invocation share."""

    run_name: str
    run_id: str
    setting: str
    agent: str
    options: AgentOptions
    backend: str
    log_dir: Path
    messaging: bool = True
    git: bool = False
    redis_url: str | None = attrs.field(default=None, repr=redacted_repr)
    image_template: str | None = None
    concurrency: int = 4
    force: bool = False
    auto_eval: bool = True
    eval_concurrency: int = 4
    eval_timeout: int = DEFAULT_TEST_TIMEOUT
    #: Backend-specific sandbox options (e.g. ``{"build_args": {...}}``) for every
    #: sandbox of the run: the agents' and the evaluation's.
    sandbox_options: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def run_dir(self) -> Path:
        """``<log_dir>/<run_name>``."""
        return self.log_dir / self.run_name

    @property
    def uses_messaging(self) -> bool:
        """Messaging only means something when several agents work together."""
        return self.setting == "coop" and self.messaging


def default_run_name(agent: str, setting: str, now: datetime | None = None) -> str:
    """``<agent>-<setting>-<YYYYmmdd-HHMMSS>``, for runs started without ``-n``."""
    return f"{agent}-{setting}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"


def new_run_id() -> str:
    """A short id for one invocation (namespaces its messaging keys)."""
    return uuid.uuid4().hex[:8]


def check_setting(setting: str) -> str:
    """``coop`` or ``solo``."""
    if setting not in SETTINGS:
        raise UsageError(f"bad setting {setting!r}: use coop or solo")
    return setting


def load_agent_config(source: str | Path | Mapping[str, Any] | None) -> dict[str, Any]:
    """The agent config: a mapping as given, or a JSON / TOML file (by extension)."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read --agent-config {path}: {exc.strerror or exc}") from None
    try:
        data: Any = _parse_toml(text) if path.suffix == ".toml" else json.loads(text)
    except ValueError as exc:  # TOMLDecodeError is a ValueError too
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise UsageError(f"--agent-config {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--agent-config {path} must hold an object/table at the top level")
    return data


def _parse_toml(text: str) -> Any:
    try:
        # tomllib is in the standard library from Python 3.11 on; core supports 3.10.
        toml = importlib.import_module("tomllib")
    except ImportError:
        raise UsageError("TOML agent configs need Python 3.11 or newer; use JSON") from None
    return toml.loads(text)
