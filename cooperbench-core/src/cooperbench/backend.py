"""The Python entry point for backends: ``get_backend(name).create_sandbox(...)``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cooperbench.backend_status import BackendStatus
from cooperbench.plugins import PluginManager
from cooperbench.sandbox import DEFAULT_SANDBOX_TIMEOUT, DEFAULT_WORKDIR, Sandbox, SandboxRequest


@attrs.frozen
class Backend:
    """A selected backend: a name resolved through plugin discovery."""

    name: str
    plugins: PluginManager

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
    ) -> Sandbox:
        """Start a sandbox from ``image`` that stops itself after ``timeout`` seconds."""
        request = SandboxRequest(
            image=image,
            timeout=timeout,
            workdir=workdir,
            task_dir=task_dir,
            network=network,
            env=env or {},
            labels=labels or {},
            options=options or {},
        )
        return self.plugins.create_sandbox(self.name, request)

    def check(self) -> BackendStatus:
        """Whether this backend can work on this machine right now."""
        return self.plugins.check_backend(self.name)


def get_backend(name: str, plugins: PluginManager | None = None) -> Backend:
    """Resolve ``name`` through the installed plugins.

    Raises :class:`~cooperbench.errors.UnknownBackendError` (listing the installed
    backends and the install command) or :class:`~cooperbench.errors.PluginLoadError`.
    """
    manager = plugins if plugins is not None else PluginManager.discover()
    manager.require_backend(name)
    return Backend(name, manager)
