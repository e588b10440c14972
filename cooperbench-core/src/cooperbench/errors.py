"""The one exception tree of cooperbench.

Every error a user can cause derives from :class:`CooperbenchError`; specific errors
also subclass the matching builtin so callers can catch them idiomatically. Messages
say what to do next, because the CLI prints them as the single line a user sees.
"""

from __future__ import annotations

#: ``error_kind`` of a failure of the harness or backend (see :class:`InfrastructureError`).
INFRASTRUCTURE = "infrastructure"


class CooperbenchError(Exception):
    """Root of every error cooperbench raises on purpose."""

    #: Process exit code the CLI uses when this error ends a command.
    exit_code: int = 1


class UsageError(CooperbenchError, ValueError):
    """The user asked for something malformed (bad flag value, bad selection)."""

    exit_code = 2


class UnknownBackendError(CooperbenchError, LookupError):
    """No installed plugin provides the requested backend."""

    exit_code = 2


class PluginLoadError(CooperbenchError, ImportError):
    """A plugin is installed but could not be loaded, or it is disabled."""

    exit_code = 2


class PluginConflictError(PluginLoadError):
    """Two installed distributions register the same plugin name."""


class UnknownAgentError(CooperbenchError, LookupError):
    """No installed plugin provides the requested agent."""

    exit_code = 2


class BackendUnavailableError(CooperbenchError, RuntimeError):
    """The backend is installed but cannot work here (daemon down, no credentials)."""


class DatasetError(CooperbenchError, LookupError):
    """The dataset, a subset, a task or a feature cannot be found or read."""

    exit_code = 2


class LogsError(CooperbenchError, LookupError):
    """A run's logs cannot be found or read."""

    exit_code = 2


class SandboxError(CooperbenchError, RuntimeError):
    """A sandbox could not be created or used."""


class SandboxTerminatedError(SandboxError):
    """The sandbox was used after :meth:`terminate`."""


class SandboxFileNotFoundError(SandboxError, FileNotFoundError):
    """A file read from a sandbox does not exist there."""


class SandboxTimeoutError(SandboxError, TimeoutError):
    """A sandbox operation did not finish within its time limit."""


class InfrastructureError(CooperbenchError, RuntimeError):
    """The harness or backend failed, not the agents: the pair is retried by the next eval.

    ``kind`` is recorded as eval.json's ``error_kind``.
    """

    def __init__(self, message: str, kind: str = INFRASTRUCTURE) -> None:
        super().__init__(message)
        self.kind = kind


class AgentError(CooperbenchError, RuntimeError):
    """An agent plugin broke its contract (returned no ``AgentResult``, no patch)."""


class PatchError(CooperbenchError, ValueError):
    """A patch is malformed and cannot be processed."""


class MessagingError(CooperbenchError, RuntimeError):
    """The message bus or the shared git remote could not be started or used."""


class MessagingConnectionError(MessagingError, ConnectionError):
    """Redis cannot be reached at the given URL (wrong address, server down, bad password)."""


class SandboxIsADirectoryError(SandboxError, IsADirectoryError):
    """A path read from a sandbox as a file is a directory there."""


class SandboxPermissionError(SandboxError, PermissionError):
    """The sandbox's user may not read a file (its mode or a parent directory forbids it)."""
