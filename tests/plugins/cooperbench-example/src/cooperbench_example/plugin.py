"""Hook implementations of the ``example`` backend.

This module is what the entry point names, so it must import fast: a real plugin
imports its SDK (kubernetes, boto3, ...) inside the hooks, never at module level.
"""

from __future__ import annotations

from cooperbench import hookimpl
from cooperbench.backend_status import BackendStatus
from cooperbench.sandbox import Sandbox, SandboxRequest

BACKEND_NAME = "example"


@hookimpl
def create_sandbox(backend: str, request: SandboxRequest) -> Sandbox | None:
    """Answer only for our own backend name; return None for every other."""
    if backend != BACKEND_NAME:
        return None
    from cooperbench_example.sandbox import ExampleSandbox  # the "SDK" import, done lazily

    return ExampleSandbox.create(request)


@hookimpl
def check_backend(backend: str) -> BackendStatus | None:
    """A real plugin checks credentials or pings its service here, cheaply."""
    if backend != BACKEND_NAME:
        return None
    return BackendStatus(True, "example backend: runs on the host")
