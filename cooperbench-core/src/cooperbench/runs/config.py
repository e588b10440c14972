"""The settings of one ``cooperbench run`` invocation and how they are checked."""

from __future__ import annotations

import importlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from cooperbench.agents.types import AgentOptions
from cooperbench.dataset import DEFAULT_IMAGE_TEMPLATE, IMAGE_TEMPLATE_ENV_VAR
from cooperbench.errors import UsageError
from cooperbench.evaluation.types import DEFAULT_TEST_TIMEOUT
from cooperbench.messaging.url import redacted_repr

SETTINGS = ("coop", "solo")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    #: Variables for every agent's commands (``--env``, ``--pass-env``). The values may
    #: be secrets: they never appear in a repr or in the run folder.
    agent_env: Mapping[str, str] = attrs.field(factory=dict, repr=False)

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


def image_template_in_effect(template: str | None) -> str:
    """The task image naming a run uses: ``template``, else the environment's, else the
    published one (the order :meth:`~cooperbench.dataset.Task.image` follows)."""
    return template or os.environ.get(IMAGE_TEMPLATE_ENV_VAR) or DEFAULT_IMAGE_TEMPLATE


def build_agent_env(
    env: Mapping[str, str] | None,
    pass_env: Iterable[str] | None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The agents' variables: ``env`` as given plus ``pass_env`` copied from ``environ``.

    ``environ`` defaults to the harness's own environment. A name that is not a valid
    variable name, or a ``pass_env`` name that is not set, is a usage error.
    """
    source = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    for name, value in (env or {}).items():
        merged[_check_env_name(name, "--env")] = str(value)
    for name in pass_env or ():
        if _check_env_name(name, "--pass-env") not in source:
            raise UsageError(
                f"--pass-env {name}: the variable is not set here; set it or use --env"
            )
        merged[name] = source[name]
    return merged


def parse_env_assignments(items: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings (``--env``) as a mapping; the value may be empty."""
    parsed: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"bad --env {item.split('=')[0]!r}: use KEY=VALUE")
        parsed[_check_env_name(name, "--env")] = value
    return parsed


def _check_env_name(name: str, flag: str) -> str:
    if not _ENV_NAME.match(name):
        raise UsageError(f"bad {flag} name {name!r}: use letters, digits and _")
    return name


def _parse_toml(text: str) -> Any:
    try:
        # tomllib is in the standard library from Python 3.11 on; core supports 3.10.
        toml = importlib.import_module("tomllib")
    except ImportError:
        raise UsageError("TOML agent configs need Python 3.11 or newer; use JSON") from None
    return toml.loads(text)
