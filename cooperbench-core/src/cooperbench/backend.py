"""The Python entry point for backends: ``get_backend(name).create_sandbox(...)``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cooperbench.backend_status import BackendStatus
from cooperbench.exec_output import DEFAULT_OUTPUT_LIMIT
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import DEFAULT_SANDBOX_TIMEOUT, DEFAULT_WORKDIR, Sandbox, SandboxRequest


class Backend:
    """A selected backend: a name resolved through plugin discovery, and its plugins."""

    def __init__(self, name: str, plugins: PluginManager) -> None:
        self.name = name
        self._plugins = plugins

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"

    def create_sandbox(
        self,
        image: str,
        timeout: int = DEFAULT_SANDBOX_TIMEOUT,
        workdir: str = DEFAULT_WORKDIR,
        *,
        task_dir: Path | None = None,
        network: bool = True,
        env: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> Sandbox:
        """Start a sandbox from ``image`` that stops itself after ``timeout`` seconds.

        ``options`` are the backend's own options (``cooperbench backends --options
        NAME``); an unknown or ill-typed one raises
        :class:`~cooperbench.errors.UsageError` before anything starts.
        ``output_limit`` is how many bytes of each output stream of one command are
        kept (the head and the tail; ``ExecResult.stdout_dropped`` counts the rest).
        """
        request = SandboxRequest(
            image=image,
            timeout=timeout,
            workdir=workdir,
            task_dir=task_dir,
            network=network,
            env=env or {},
            labels=labels or {},
            options=self._plugins.resolve_options(self.name, options or {}),
            output_limit=output_limit,
        )
        return self._plugins.create_sandbox(self.name, request)

    def check(self) -> BackendStatus:
        """Whether this backend can work on this machine right now."""
        return self._plugins.check_backend(self.name)


def get_backend(name: str, plugins: PluginManager | None = None) -> Backend:
    """Resolve ``name`` through the installed plugins.

    Raises :class:`~cooperbench.errors.UnknownBackendError` (listing the installed
    backends and the install command) or :class:`~cooperbench.errors.PluginLoadError`.
    """
    manager = plugins if plugins is not None else PluginManager.discover()
    manager.require_backend(name)
    return Backend(name, manager)
