"""Plugin discovery and the typed facade over pluggy.

Backends are found only through the ``cooperbench`` entry-point group (core's own
``local`` backend included), so there is no hard-coded list of backends anywhere.
Callers use :class:`PluginManager`'s typed methods and never touch ``pm.hook``. There is
no module-level instance: the CLI builds one and passes it down, tests build their own.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, TypeVar

import attrs
import pluggy

from cooperbench import hookspecs
from cooperbench.errors import (
    BackendUnavailableError,
    PluginLoadError,
    SandboxError,
    UnknownBackendError,
)
from cooperbench.markers import PROJECT_NAME

if TYPE_CHECKING:
    from cooperbench.agents.registry import AgentRegistry
    from cooperbench.agents.types import Agent
    from cooperbench.backend_status import BackendStatus
    from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
    from cooperbench.messaging.types import MessagingRequest, MessagingSession
    from cooperbench.sandbox import Sandbox, SandboxRequest

ENTRY_POINT_GROUP = "cooperbench"
DISABLED_ENV_VAR = "COOPERBENCH_DISABLED_PLUGINS"

#: Backends published by this project, installable as extras of the ``cooperbench``
#: distribution; used only to tell a user how to install a missing one.
FIRST_PARTY_EXTRAS = ("docker", "modal", "gcp")

T = TypeVar("T")

LOADED = "loaded"
BROKEN = "broken"
DISABLED = "disabled"


@attrs.frozen
class PluginInfo:
    """One discovered backend plugin and how loading it went."""

    name: str
    value: str
    dist_name: str | None
    dist_version: str | None
    state: str
    error: str | None = None

    @property
    def loaded(self) -> bool:
        """True when the plugin module imported and is registered."""
        return self.state == LOADED


def disabled_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> set[str]:
    """The plugin names listed in ``COOPERBENCH_DISABLED_PLUGINS`` (comma separated)."""
    raw = (environ if environ is not None else os.environ).get(DISABLED_ENV_VAR, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def install_hint(backend: str) -> str:
    """The command that installs ``backend``, as a user would type it."""
    if backend in FIRST_PARTY_EXTRAS:
        return f"pip install 'cooperbench[{backend}]'"
    return f"pip install cooperbench-{backend}  (or the distribution that provides it)"


def load_entry_point(
    entry_point: metadata.EntryPoint, blocked: set[str], load: Callable[[object], T]
) -> tuple[PluginInfo, T | None]:
    """Load one entry point by the rules every plugin kind shares.

    A name in ``blocked`` is not imported at all (disabled); any failure while importing
    or in ``load`` marks only this plugin broken. Returns its info and what ``load``
    made of the loaded object (``None`` unless it loaded).
    """
    dist = entry_point.dist
    info = PluginInfo(
        entry_point.name,
        entry_point.value,
        dist.metadata["Name"] if dist is not None else None,
        dist.version if dist is not None else None,
        LOADED,
    )
    if entry_point.name in blocked:
        return attrs.evolve(info, state=DISABLED), None
    try:
        loaded = load(entry_point.load())
    except Exception as exc:  # noqa: BLE001 - any failure marks only this plugin broken
        return attrs.evolve(info, state=BROKEN, error=f"{type(exc).__name__}: {exc}"), None
    return info, loaded


def ensure_loaded(kind: str, info: PluginInfo) -> None:
    """Raise the error that says why the ``kind`` plugin ``info`` cannot be used, if any."""
    name = info.name
    source = f" (from {info.dist_name} {info.dist_version})" if info.dist_name else ""
    if info.state == DISABLED:
        raise PluginLoadError(
            f"{kind} '{name}'{source} is disabled by {DISABLED_ENV_VAR}; "
            "remove it from that variable to use it"
        )
    if info.state == BROKEN:
        dist = info.dist_name or f"the distribution providing '{name}'"
        raise PluginLoadError(
            f"{kind} '{name}'{source} failed to load: {info.error}; "
            f"reinstall it with: pip install --force-reinstall {dist}"
        )


class PluginManager:
    """Discovers backend plugins and calls their hooks through typed methods."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._infos: dict[str, PluginInfo] = {}
        self._blocked: set[str] | None = None
        self._agents: AgentRegistry | None = None
        # Core's generic implementations (the default evaluate_patch) answer for every
        # backend that does not override them; they are not a backend themselves.
        from cooperbench import defaults

        self._pm.register(defaults, name="cooperbench.defaults")

    @classmethod
    def discover(cls, disabled: Iterable[str] | None = None) -> PluginManager:
        """Build a manager holding every installed ``cooperbench`` entry point.

        ``disabled`` defaults to ``COOPERBENCH_DISABLED_PLUGINS``. A plugin that fails
        to import is recorded as broken and does not stop the others.
        """
        manager = cls()
        blocked = disabled_from_env() if disabled is None else set(disabled)
        manager._blocked = blocked
        for entry_point in sorted(
            metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name
        ):
            manager._load_entry_point(entry_point, blocked)
        return manager

    def _load_entry_point(self, entry_point: metadata.EntryPoint, blocked: set[str]) -> None:
        if entry_point.name in self._infos:
            return  # The first distribution providing a name wins; later ones are shadowed.

        def register(module: object) -> object:
            self._pm.register(module, name=entry_point.name)
            return module

        self._infos[entry_point.name], _ = load_entry_point(entry_point, blocked, register)

    def register(
        self,
        module: types.ModuleType | object,
        name: str,
        dist_name: str | None = None,
        dist_version: str | None = None,
    ) -> None:
        """Register a backend plugin object directly (for tests and embedding)."""
        self._pm.register(module, name=name)
        self._infos[name] = PluginInfo(name, repr(module), dist_name, dist_version, LOADED)

    def plugins(self) -> list[PluginInfo]:
        """Every discovered plugin, loaded, broken or disabled, sorted by name."""
        return [self._infos[name] for name in sorted(self._infos)]

    def backend_names(self) -> list[str]:
        """Names of the backends that loaded and can be selected."""
        return [info.name for info in self.plugins() if info.loaded]

    def require_backend(self, name: str) -> PluginInfo:
        """Return the plugin providing ``name`` or raise an error saying what to do."""
        info = self._infos.get(name)
        if info is None:
            installed = ", ".join(self.backend_names()) or "none"
            raise UnknownBackendError(
                f"unknown backend '{name}' (installed: {installed}); "
                f"install it with: {install_hint(name)}"
            )
        ensure_loaded("backend", info)
        return info

    # -- agents (entry-point group ``cooperbench.agents``) ---------------------------------

    def agent_registry(self) -> AgentRegistry:
        """The agent plugins, discovered on first use with the same disabled names."""
        if self._agents is None:
            # Imported here: agents are only needed by `run` and `agents`.
            from cooperbench.agents.registry import AgentRegistry

            blocked = disabled_from_env() if self._blocked is None else self._blocked
            self._agents = AgentRegistry.discover(blocked)
        return self._agents

    def agent_plugins(self) -> list[PluginInfo]:
        """Every discovered agent plugin, loaded, broken or disabled, sorted by name."""
        return self.agent_registry().infos()

    def require_agent(self, name: str) -> Agent:
        """The agent ``name`` or an error naming the installed ones."""
        return self.agent_registry().require(name)

    def register_agent(self, name: str, agent: object) -> None:
        """Register an agent object directly (for tests and embedding)."""
        self.agent_registry().register(name, agent)

    # -- typed hook calls -------------------------------------------------------------

    def create_sandbox(self, backend: str, request: SandboxRequest) -> Sandbox:
        """Create a sandbox on ``backend`` (see :func:`hookspecs.create_sandbox`)."""
        self.require_backend(backend)
        sandbox: Sandbox | None = self._pm.hook.create_sandbox(backend=backend, request=request)
        if sandbox is None:
            raise SandboxError(f"backend '{backend}' does not provide sandboxes")
        return sandbox

    def setup_messaging(self, backend: str, request: MessagingRequest) -> MessagingSession:
        """Start messaging for a run on ``backend`` (see :func:`hookspecs.setup_messaging`)."""
        self.require_backend(backend)
        session: MessagingSession | None = self._pm.hook.setup_messaging(
            backend=backend, request=request
        )
        if session is None:
            raise PluginLoadError(f"backend '{backend}' does not provide messaging")
        return session

    def evaluate_patch(
        self, backend: str, requests: Sequence[EvalRequest], context: EvalContext
    ) -> list[EvalResult]:
        """Evaluate a batch of pairs on ``backend`` (see :func:`hookspecs.evaluate_patch`)."""
        self.require_backend(backend)
        results: Sequence[EvalResult] | None = self._pm.hook.evaluate_patch(
            backend=backend, requests=list(requests), context=context
        )
        if results is None:
            raise PluginLoadError(f"backend '{backend}' cannot evaluate patches")
        return list(results)

    def cleanup_resources(self, backend: str, dry_run: bool = False) -> list[str]:
        """Remove leftovers of dead runs on ``backend`` (see :func:`hookspecs.cleanup_resources`)."""
        self.require_backend(backend)
        removed: Sequence[str] | None = self._pm.hook.cleanup_resources(
            backend=backend, dry_run=dry_run
        )
        return list(removed or [])

    def check_backend(self, backend: str) -> BackendStatus:
        """Ask ``backend`` whether it can work here (see :func:`hookspecs.check_backend`)."""
        from cooperbench.backend_status import BackendStatus

        self.require_backend(backend)
        try:
            status: BackendStatus | None = self._pm.hook.check_backend(backend=backend)
        except Exception as exc:  # noqa: BLE001 - a failing check means "not usable"
            return BackendStatus(False, f"check failed: {type(exc).__name__}: {exc}")
        return status if status is not None else BackendStatus(True, "no self-check provided")

    def require_usable_backend(self, backend: str) -> None:
        """Raise :class:`~cooperbench.errors.BackendUnavailableError` unless ``backend``
        can work here (engine running, credentials present).

        Called before the first sandbox is asked for, so a stopped Docker engine is one
        clear error rather than one failed pair after another.
        """
        status = self.check_backend(backend)
        if not status.usable:
            raise BackendUnavailableError(f"backend '{backend}' cannot work here: {status.detail}")
