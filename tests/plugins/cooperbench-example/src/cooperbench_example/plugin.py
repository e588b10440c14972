"""Hook implementations of the ``example`` backend.

This module is what the entry point names, so it must import fast: a real plugin
imports its SDK (kubernetes, boto3, ...) inside the hooks, never at module level. Core
calls these only when ``example`` is the selected backend, so no hook checks the name.
"""

from __future__ import annotations

from cooperbench.plugin import BackendOption, BackendStatus, Sandbox, SandboxRequest, hookimpl


@hookimpl
def create_sandbox(request: SandboxRequest) -> Sandbox:
    """Create a sandbox for ``request``."""
    from cooperbench_example.sandbox import ExampleSandbox  # the "SDK" import, done lazily

    return ExampleSandbox.create(request)


@hookimpl
def check_backend() -> BackendStatus:
    """A real plugin checks credentials or pings its service here, cheaply."""
    return BackendStatus(True, "example backend: runs on the host")


@hookimpl
def backend_options() -> list[BackendOption]:
    """The options users may set with ``--backend-option KEY=VALUE``."""
    return [BackendOption("greeting", str, "hello", "Text the sandbox's README starts with.")]
