"""Backend discovery and the typed facade over pluggy.

Backends are found only through the ``cooperbench`` entry-point group (core's own
``local`` backend included), so there is no hard-coded list of backends anywhere.
Dispatch is core's job: each backend gets a pluggy manager of its own that holds only
its module and core's defaults, so a hook call reaches the selected backend's
implementation and nothing else; a plugin never compares backend names and cannot
answer for another backend. Callers use :class:`PluginManager`'s typed methods and never touch
``pm.hook``. There is no module-level instance: the CLI builds one and passes it down,
tests build their own.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from cooperbench import defaults, hookspecs
from cooperbench.backend_status import BackendStatus
from cooperbench.entry_points import (
    BROKEN,
    LOADED,
    PluginInfo,
    disabled_from_env,
    ensure_loaded,
    load_group,
)
from cooperbench.errors import (
    BackendUnavailableError,
    PluginLoadError,
    SandboxError,
    UnknownBackendError,
    UsageError,
)
from cooperbench.markers import PROJECT_NAME
from cooperbench.plugin_validation import check_plugin

if TYPE_CHECKING:
    from cooperbench.backend_options import BackendOption
    from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
    from cooperbench.messaging.types import MessagingRequest, MessagingSession
    from cooperbench.sandbox import Sandbox, SandboxRequest

ENTRY_POINT_GROUP = "cooperbench"

#: Extras of the ``cooperbench`` meta-distribution that install a backend; used only to
#: tell a user how to install a missing one (a test keeps it equal to pyproject.toml).
FIRST_PARTY_EXTRAS = ("docker", "modal", "gcp")

_DEFAULTS_NAME = "cooperbench.defaults"


def install_hint(backend: str) -> str:
    """The command that installs ``backend``, as a user would type it."""
    if backend in FIRST_PARTY_EXTRAS:
        return f"pip install 'cooperbench[{backend}]'"
    return f"pip install cooperbench-{backend}  (or the distribution that provides it)"


def _backend_manager() -> pluggy.PluginManager:
    """A pluggy manager for one backend, holding core's defaults until the backend joins."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    # Core's generic implementations (the default evaluate_patch) serve every backend
    # that does not override them; they are not a backend themselves.
    pm.register(defaults, name=_DEFAULTS_NAME)
    return pm


class PluginManager:
    """Discovers backend plugins and calls the selected one's hooks through typed methods."""

    def __init__(self) -> None:
        self._infos: dict[str, list[PluginInfo]] = {}
        self._managers: dict[str, pluggy.PluginManager] = {}

    @classmethod
    def discover(cls, disabled: Iterable[str] | None = None) -> PluginManager:
        """Build a manager holding every installed ``cooperbench`` entry point.

        ``disabled`` defaults to ``COOPERBENCH_DISABLED_PLUGINS``. A plugin that fails
        to import or to validate is recorded as broken and does not stop the others;
        two distributions registering one name are both recorded as a conflict.
        """
        manager = cls()
        blocked = disabled_from_env() if disabled is None else set(disabled)
        for info, _ in load_group(ENTRY_POINT_GROUP, blocked, manager._accept):
            manager._infos.setdefault(info.name, []).append(info)
        return manager

    def _accept(self, info: PluginInfo, module: object) -> tuple[PluginInfo, object | None]:
        """Validate and register an imported plugin module; a problem marks it broken."""
        pm = _backend_manager()
        hooks, problem = check_plugin(pm, module)
        if problem is not None:
            return attrs.evolve(info, state=BROKEN, error=problem, hooks=hooks), None
        pm.register(module, name=info.name)
        self._managers[info.name] = pm
        return attrs.evolve(info, hooks=hooks), module

    def register(
        self,
        module: types.ModuleType | object,
        name: str,
        dist_name: str | None = None,
        dist_version: str | None = None,
    ) -> None:
        """Register a backend plugin object directly (for tests and embedding).

        Raises :class:`~cooperbench.errors.PluginLoadError` when ``module`` does not
        pass the checks discovery applies, or when ``name`` is taken.
        """
        if name in self._managers:
            raise PluginLoadError(f"a backend named '{name}' is already registered")
        info = PluginInfo(name, repr(module), dist_name, dist_version, LOADED)
        info, _ = self._accept(info, module)
        if not info.loaded:
            raise PluginLoadError(f"backend '{name}' cannot be registered: {info.error}")
        self._infos[name] = [info]

    def plugins(self) -> list[PluginInfo]:
        """Every discovered plugin (loaded, broken, disabled, in conflict), sorted by name."""
        return [info for name in sorted(self._infos) for info in self._infos[name]]

    def backend_names(self) -> list[str]:
        """Names of the backends that loaded and can be selected."""
        return sorted(self._managers)

    def require_backend(self, name: str) -> PluginInfo:
        """Return the plugin providing ``name`` or raise an error saying what to do."""
        records = self._infos.get(name)
        if not records:
            installed = ", ".join(self.backend_names()) or "none"
            raise UnknownBackendError(
                f"unknown backend '{name}' (installed: {installed}); "
                f"install it with: {install_hint(name)}"
            )
        ensure_loaded("backend", records)
        return next(info for info in records if info.loaded)

    def implements(self, backend: str, hook: str) -> bool:
        """True when the selected ``backend`` itself implements ``hook``."""
        return hook in self.require_backend(backend).hooks

    def _hook(self, name: str, backend: str) -> Any:
        """The hook ``name`` of ``backend``: its own implementation, else core's default."""
        self.require_backend(backend)
        return getattr(self._managers[backend].hook, name)

    # -- typed hook calls -------------------------------------------------------------

    def create_sandbox(self, backend: str, request: SandboxRequest) -> Sandbox:
        """Create a sandbox on ``backend`` (see :func:`hookspecs.create_sandbox`)."""
        sandbox: Sandbox | None = self._hook("create_sandbox", backend)(
            backend=backend, request=request
        )
        if sandbox is None:
            raise SandboxError(f"backend '{backend}' does not provide sandboxes")
        return sandbox

    def setup_messaging(self, backend: str, request: MessagingRequest) -> MessagingSession:
        """Start messaging for a pair on ``backend`` (see :func:`hookspecs.setup_messaging`)."""
        session: MessagingSession | None = self._hook("setup_messaging", backend)(
            backend=backend, request=request
        )
        if session is None:
            raise UsageError(
                f"backend '{backend}' does not provide messaging; use --redis URL or --no-messaging"
            )
        return session

    def evaluate_patch(
        self, backend: str, requests: Sequence[EvalRequest], context: EvalContext
    ) -> list[EvalResult]:
        """Evaluate a batch of pairs on ``backend`` (see :func:`hookspecs.evaluate_patch`).

        Every result, reported or returned, is stamped with its provenance (backend,
        image, test timeout, cooperbench version), whatever the backend filled in.
        """
        from cooperbench.evaluation.provenance import stamper

        stamp = stamper(backend, requests)
        report = context.report
        stamped = attrs.evolve(context, report=lambda result: report(stamp(result)))
        results: Sequence[EvalResult] | None = self._hook("evaluate_patch", backend)(
            backend=backend, requests=list(requests), context=stamped
        )
        if results is None:
            raise PluginLoadError(f"backend '{backend}' returned no evaluation results")
        return [stamp(result) for result in results]

    def cleanup_resources(self, backend: str, dry_run: bool = False) -> list[str]:
        """Remove leftovers of dead runs on ``backend`` (see :func:`hookspecs.cleanup_resources`)."""
        removed: Sequence[str] | None = self._hook("cleanup_resources", backend)(
            backend=backend, dry_run=dry_run
        )
        return list(removed or [])

    def configure_backend(
        self, backend: str, settings: Mapping[str, str], interactive: bool = False
    ) -> str:
        """Run ``backend``'s setup wizard; return the file it wrote
        (see :func:`hookspecs.configure_backend`)."""
        written: str | None = self._hook("configure_backend", backend)(
            backend=backend, settings=dict(settings), interactive=interactive
        )
        if written is None:
            raise UsageError(f"backend '{backend}' has nothing to set up (no setup wizard)")
        return written

    def check_backend(self, backend: str) -> BackendStatus:
        """Ask ``backend`` whether it can work here (see :func:`hookspecs.check_backend`)."""
        hook = self._hook("check_backend", backend)
        try:
            status: BackendStatus | None = hook(backend=backend)
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

    def backend_options(self, backend: str) -> list[BackendOption]:
        """The options ``backend`` declares (see :func:`hookspecs.backend_options`)."""
        declared: Sequence[BackendOption] | None = self._hook("backend_options", backend)(
            backend=backend
        )
        return list(declared or [])

    def resolve_options(self, backend: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """Check the user's options for ``backend``; return them typed.

        Unknown names, values of the wrong type and values the host cannot satisfy
        (more CPUs than it has) raise :class:`~cooperbench.errors.UsageError` before
        any work starts.
        """
        from cooperbench.backend_options import resolve_options

        declared = self.backend_options(backend)
        resolved = resolve_options(backend, declared, given)
        for option in declared:
            if option.check is not None and option.name in resolved:
                problem = option.check(resolved[option.name])
                if problem:
                    raise UsageError(f"backend option {option.name}: {problem}")
        return resolved
