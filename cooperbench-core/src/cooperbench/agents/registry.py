"""Discovery of agent plugins in the ``cooperbench.agents`` entry-point group.

Same rules as backends: the entry-point name is the agent name, core's built-ins come
through core's own entry points, a plugin that fails to load is recorded as broken (and
named when chosen) without stopping the others, and ``COOPERBENCH_DISABLED_PLUGINS``
blocks agents by name too.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

from cooperbench.agents.types import Agent
from cooperbench.errors import CooperbenchError
from cooperbench.plugins import LOADED, PluginInfo, ensure_loaded, load_entry_point

AGENT_ENTRY_POINT_GROUP = "cooperbench.agents"


class UnknownAgentError(CooperbenchError, LookupError):
    """No installed plugin provides the requested agent."""

    exit_code = 2


def as_agent(loaded: object) -> Agent:
    """Turn an entry point's value into an agent: an object or module with ``run``.

    A class is instantiated without arguments first, so ``pkg.mod:MyAgent`` works.
    """
    candidate = loaded() if isinstance(loaded, type) else loaded
    if not callable(getattr(candidate, "run", None)):
        raise TypeError(f"{loaded!r} has no run(task) function")
    return candidate  # type: ignore[return-value]  # checked structurally above


class AgentRegistry:
    """The discovered agents, by name."""

    def __init__(self) -> None:
        self._infos: dict[str, PluginInfo] = {}
        self._agents: dict[str, Agent] = {}

    @classmethod
    def discover(cls, disabled: Iterable[str] = ()) -> AgentRegistry:
        """Load every ``cooperbench.agents`` entry point except the ``disabled`` names."""
        registry = cls()
        blocked = set(disabled)
        entry_points = metadata.entry_points(group=AGENT_ENTRY_POINT_GROUP)
        for entry_point in sorted(entry_points, key=lambda ep: ep.name):
            registry._load(entry_point, blocked)
        return registry

    def _load(self, entry_point: metadata.EntryPoint, blocked: set[str]) -> None:
        if entry_point.name in self._infos:
            return  # the first distribution providing a name wins
        info, agent = load_entry_point(entry_point, blocked, as_agent)
        self._infos[entry_point.name] = info
        if agent is not None:
            self._agents[entry_point.name] = agent

    def register(self, name: str, agent: object, dist_name: str | None = None) -> None:
        """Register an agent object directly (for tests and embedding)."""
        self._agents[name] = as_agent(agent)
        self._infos[name] = PluginInfo(name, repr(agent), dist_name, None, LOADED)

    def infos(self) -> list[PluginInfo]:
        """Every discovered agent plugin, loaded, broken or disabled, sorted by name."""
        return [self._infos[name] for name in sorted(self._infos)]

    def names(self) -> list[str]:
        """Names of the agents that loaded and can be chosen."""
        return [info.name for info in self.infos() if info.loaded]

    def require(self, name: str) -> Agent:
        """The agent ``name``, or an error saying what is installed and what to do."""
        info = self._infos.get(name)
        if info is None:
            installed = ", ".join(self.names()) or "none"
            raise UnknownAgentError(
                f"unknown agent '{name}' (installed: {installed}); install the distribution "
                f"that provides it (it registers the entry point group '{AGENT_ENTRY_POINT_GROUP}')"
            )
        ensure_loaded("agent", info)
        return self._agents[name]
