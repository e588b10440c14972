"""cooperbench: run coding agents on cooperative benchmark tasks and score their patches.

The package root stays light (``cooperbench --help`` must be fast): heavier parts such
as evaluation are imported on first use.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

from cooperbench.backend import Backend, get_backend
from cooperbench.errors import CooperbenchError
from cooperbench.markers import hookimpl, hookspec
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import ExecResult, Sandbox, SandboxRequest

if TYPE_CHECKING:
    from cooperbench.evaluation.api import evaluate, run_patch_test
    from cooperbench.runs.api import run

try:
    __version__ = metadata.version("cooperbench-core")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

_LAZY = {
    "evaluate": "cooperbench.evaluation.api",
    "run_patch_test": "cooperbench.evaluation.api",
    "run": "cooperbench.runs.api",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cooperbench' has no attribute {name!r}")


__all__ = [
    "Backend",
    "CooperbenchError",
    "ExecResult",
    "PluginManager",
    "Sandbox",
    "SandboxRequest",
    "__version__",
    "evaluate",
    "get_backend",
    "hookimpl",
    "hookspec",
    "run",
    "run_patch_test",
]
