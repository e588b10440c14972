"""Discovery of agent plugins in the ``cooperbench.agents`` entry-point group.

Same rules as backends (:mod:`cooperbench.entry_points`): the entry-point name is the
agent name, core's built-ins come through core's own entry points, a plugin that fails
to load is recorded as broken (and named when chosen) without stopping the others, two
distributions registering one name are a conflict, and ``COOPERBENCH_DISABLED_PLUGINS``
blocks agents by name too.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from cooperbench.agents.types import Agent
from cooperbench.entry_points import (
    BROKEN,
    LOADED,
    PluginInfo,
    disabled_from_env,
    ensure_loaded,
    load_group,
)
from cooperbench.errors import PluginLoadError, UnknownAgentError

AGENT_ENTRY_POINT_GROUP = "cooperbench.agents"


def as_agent(loaded: object) -> Agent:
    """Turn an entry point's value into an agent: an object or module with ``run``.

    A class is instantiated without arguments first, so ``pkg.mod:MyAgent`` works.
    """
    candidate = loaded() if isinstance(loaded, type) else loaded
    if not callable(getattr(candidate, "run", None)):
        raise PluginLoadError(f"{loaded!r} has no run(task) function")
    return candidate  # type: ignore[return-value]  # checked structurally above


class AgentRegistry:
    """The discovered agents, by name."""

    def __init__(self) -> None:
        self._infos: dict[str, list[PluginInfo]] = {}
        self._agents: dict[str, Agent] = {}

    @classmethod
    def discover(cls, disabled: Iterable[str] | None = None) -> AgentRegistry:
        """Load every ``cooperbench.agents`` entry point except the ``disabled`` names.

        ``disabled`` defaults to ``COOPERBENCH_DISABLED_PLUGINS``.
        """
        registry = cls()
        blocked = disabled_from_env() if disabled is None else set(disabled)
        for info, agent in load_group(AGENT_ENTRY_POINT_GROUP, blocked, _load):
            registry._infos.setdefault(info.name, []).append(info)
            if agent is not None:
                registry._agents[info.name] = agent
        return registry

    def register(self, name: str, agent: object, dist_name: str | None = None) -> None:
        """Register an agent object directly (for tests and embedding)."""
        self._agents[name] = as_agent(agent)
        self._infos[name] = [PluginInfo(name, repr(agent), dist_name, None, LOADED)]

    def infos(self) -> list[PluginInfo]:
        """Every discovered agent plugin (loaded, broken, disabled, in conflict), by name."""
        return [info for name in sorted(self._infos) for info in self._infos[name]]

    def names(self) -> list[str]:
        """Names of the agents that loaded and can be chosen."""
        return sorted(self._agents)

    def require(self, name: str) -> Agent:
        """The agent ``name``, or an error saying what is installed and what to do."""
        records = self._infos.get(name)
        if not records:
            installed = ", ".join(self.names()) or "none"
            raise UnknownAgentError(
                f"unknown agent '{name}' (installed: {installed}); install the distribution "
                f"that provides it (it registers the entry point group '{AGENT_ENTRY_POINT_GROUP}')"
            )
        ensure_loaded("agent", records)
        return self._agents[name]


def _load(info: PluginInfo, loaded: object) -> tuple[PluginInfo, Agent | None]:
    try:
        return info, as_agent(loaded)
    except PluginLoadError as exc:
        return attrs.evolve(info, state=BROKEN, error=str(exc)), None
