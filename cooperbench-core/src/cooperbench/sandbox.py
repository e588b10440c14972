"""The sandbox contract every backend implements.

A sandbox is an isolated place where cooperbench runs commands: a container, a cloud
sandbox, or (for the ``local`` backend) a private directory on the host. Core consumes
sandboxes only through the :class:`Sandbox` protocol; :class:`SandboxBase` gives
backends the parts that are the same everywhere (context-manager use, idempotent
terminate, use-after-terminate errors, the output limit).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import attrs

from cooperbench.errors import SandboxError, SandboxTerminatedError, UsageError
from cooperbench.exec_kill import KILLED_STATUS
from cooperbench.exec_output import DEFAULT_OUTPUT_LIMIT, check_output_limit
from cooperbench.sandbox_paths import WORKSPACE_DIR

#: Default lifetime cap of a sandbox, in seconds.
DEFAULT_SANDBOX_TIMEOUT = 600
#: Default working directory inside a sandbox.
DEFAULT_WORKDIR = WORKSPACE_DIR

__all__ = [
    "DEFAULT_OUTPUT_LIMIT",
    "DEFAULT_SANDBOX_TIMEOUT",
    "DEFAULT_WORKDIR",
    "ExecResult",
    "Sandbox",
    "SandboxBase",
    "SandboxRequest",
]


def _frozen_mapping(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class ExecResult:
    """What one command run in a sandbox produced.

    ``returncode`` is the command's exit status (``-9``/``137``-style values when it was
    killed); ``timed_out`` says it was killed because its time limit passed.

    Each stream holds at most the sandbox's output limit: beyond it, the start and the
    end of the stream are kept with one marker line between them, and
    ``stdout_dropped``/``stderr_dropped`` count the bytes left out.
    """

    returncode: int
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False
    duration: float = 0.0
    stdout_dropped: int = 0
    stderr_dropped: int = 0

    def stdout_read(self) -> str:
        """The standard output, decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", errors="replace")

    def stderr_read(self) -> str:
        """The standard error, decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stderr.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its time limit."""
        return self.returncode == 0 and not self.timed_out

    @property
    def truncated(self) -> bool:
        """True when part of stdout or stderr was dropped for the output limit."""
        return self.stdout_dropped > 0 or self.stderr_dropped > 0


@attrs.frozen
class SandboxRequest:
    """Everything a backend needs to create one sandbox.

    ``timeout`` is the sandbox's lifetime cap in seconds: the backend stops it by itself
    once it has passed, so a killed harness leaves nothing running for long.
    ``task_dir`` is the dataset task folder (``<repo>_task/task<id>``) when the sandbox
    is for a task; backends use it to build the image (Docker) or to materialize the
    workspace (``local``). ``labels`` name the run that owns the sandbox. ``options``
    carries backend-specific settings (resource limits, build arguments) that other
    backends ignore. ``output_limit`` is how many bytes of each stream of a command
    :meth:`Sandbox.exec` keeps (see :class:`ExecResult`).
    """

    image: str
    timeout: int = DEFAULT_SANDBOX_TIMEOUT
    workdir: str = DEFAULT_WORKDIR
    task_dir: Path | None = None
    network: bool = True
    env: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    output_limit: int = attrs.field(default=DEFAULT_OUTPUT_LIMIT)

    @output_limit.validator
    def _check_output_limit(self, _attribute: attrs.Attribute[int], value: int) -> None:
        check_output_limit(value)


@runtime_checkable
class Sandbox(Protocol):
    """A started sandbox. Backends return objects of this shape from ``create_sandbox``."""

    @property
    def id(self) -> str:
        """A backend-specific identifier (container id, sandbox id, directory)."""
        ...

    @property
    def workdir(self) -> str:
        """The default working directory of :meth:`exec`."""
        ...

    def exec(
        self,
        *args: str,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        """Run ``args`` (no shell) and wait for it.

        ``timeout`` kills the command and every process it started once it passes, and
        the call returns promptly with ``timed_out=True``. ``env`` adds variables for
        this command only; ``cwd`` defaults to :attr:`workdir`, and one that does not
        exist raises :class:`~cooperbench.errors.SandboxError`. A command that cannot be
        run is a result, not an exception: 127 when missing, 126 when not executable.
        Output beyond the output limit is dropped from the middle of each stream.
        """
        ...

    def write_file(self, path: str, data: bytes | str) -> None:
        """Write ``data`` (any size) to ``path`` inside the sandbox, creating parents."""
        ...

    def read_file(self, path: str) -> bytes:
        """Read a file of any size from the sandbox.

        Raises :class:`~cooperbench.errors.SandboxFileNotFoundError` if it is missing,
        :class:`~cooperbench.errors.SandboxIsADirectoryError` if it is a directory and
        :class:`~cooperbench.errors.SandboxPermissionError` if the sandbox's user may
        not read it.
        """
        ...

    def write_files(self, files: Mapping[str, bytes | str]) -> None:
        """Write several files (path to contents), as :meth:`write_file` does each.

        Backends where each transfer has a fixed cost send them all at once.
        """
        ...

    def terminate(self) -> None:
        """Stop the sandbox and release everything it holds. Safe to call twice."""
        ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def lifetime_exceeded() -> ExecResult:
    """The result of a command that the end of its sandbox's lifetime stopped or refused."""
    return ExecResult(KILLED_STATUS, b"", b"sandbox lifetime exceeded\n", timed_out=True)


class SandboxBase(ABC):
    """Shared behaviour for backend sandboxes.

    Subclasses implement the ``_do_*`` methods; this class guarantees that
    :meth:`terminate` runs the backend's teardown exactly once (also from several
    threads, as an interrupted evaluation does), and that any use after it raises
    :class:`~cooperbench.errors.SandboxTerminatedError`. Backends pass the request's
    ``output_limit`` and cap each stream of a command with
    :class:`~cooperbench.exec_output.CappedOutput` at :attr:`output_limit`.
    """

    def __init__(
        self, sandbox_id: str, workdir: str, *, output_limit: int = DEFAULT_OUTPUT_LIMIT
    ) -> None:
        self._id = sandbox_id
        self._workdir = workdir
        self._output_limit = check_output_limit(output_limit)
        self._terminated = False
        self._terminate_lock = threading.Lock()
        #: Seconds spent in named phases of creating this sandbox (e.g. ``image``);
        #: evaluation reports them in eval.json's ``timings``.
        self.startup_timings: dict[str, float] = {}
        #: The id of the image the sandbox started from, where the backend knows it
        #: (Docker: ``sha256:...``); evaluation records it in eval.json.
        self.image_id: str | None = None

    @property
    def id(self) -> str:
        """A backend-specific identifier."""
        return self._id

    @property
    def workdir(self) -> str:
        """The default working directory of :meth:`exec`."""
        return self._workdir

    @property
    def output_limit(self) -> int:
        """Bytes of each output stream of a command that :meth:`exec` keeps."""
        return self._output_limit

    @property
    def terminated(self) -> bool:
        """True once :meth:`terminate` has been called."""
        return self._terminated

    def exec(
        self,
        *args: str,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        """Run ``args`` in the sandbox; see :meth:`Sandbox.exec`."""
        self._check_alive()
        if not args:
            raise UsageError("exec needs a command: pass the program and its arguments")
        return self._do_exec(list(args), timeout=timeout, env=dict(env or {}), cwd=cwd)

    def write_file(self, path: str, data: bytes | str) -> None:
        """Write ``data`` to ``path`` in the sandbox; see :meth:`Sandbox.write_file`."""
        self._check_alive()
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self._do_write_file(self.resolve(path), payload)

    def read_file(self, path: str) -> bytes:
        """Read ``path`` from the sandbox; see :meth:`Sandbox.read_file`."""
        self._check_alive()
        return self._do_read_file(self.resolve(path))

    def write_files(self, files: Mapping[str, bytes | str]) -> None:
        """Write several files; see :meth:`Sandbox.write_files`."""
        self._check_alive()
        payloads = {
            self.resolve(path): data.encode("utf-8") if isinstance(data, str) else bytes(data)
            for path, data in files.items()
        }
        if payloads:
            self._do_write_files(payloads)

    def terminate(self) -> None:
        """Stop the sandbox; calling it again does nothing."""
        with self._terminate_lock:
            if self._terminated:
                return
            self._terminated = True
        self._do_terminate()

    def resolve(self, path: str) -> str:
        """Turn a sandbox path that may be relative to :attr:`workdir` into an absolute one."""
        if path.startswith("/"):
            return path
        return f"{self._workdir.rstrip('/')}/{path}"

    def __enter__(self) -> SandboxBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.terminate()

    def _exec_within_lifetime(
        self,
        deadline: float,
        timeout: float | None,
        run: Callable[[float], ExecResult],
        *,
        command: str,
        sandbox: str,
    ) -> ExecResult:
        """Run one command of ``_do_exec`` within the sandbox's lifetime.

        For backends that stop a sandbox at ``deadline`` (a ``time.monotonic()`` value):
        ``run(limit)`` runs the command for at most ``limit`` seconds, its ``timeout``
        cut to what is left of the lifetime. A command asked for after the lifetime, or
        one that failed with :class:`~cooperbench.errors.SandboxError` because the
        lifetime ended meanwhile, is :func:`lifetime_exceeded`; one that failed because
        the sandbox was terminated meanwhile raises
        :class:`~cooperbench.errors.SandboxTerminatedError`, whose message names the
        ``command`` and the ``sandbox`` (say, ``"sandbox 1f2e3d"``).
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return lifetime_exceeded()
        limit = remaining if timeout is None else max(0.0, min(timeout, remaining))
        try:
            return run(limit)
        except SandboxError as exc:
            if self._terminated:
                raise SandboxTerminatedError(
                    f"{sandbox} was terminated while {command} ran"
                ) from exc
            if deadline - time.monotonic() <= 0:
                return lifetime_exceeded()
            raise

    def _check_alive(self) -> None:
        if self._terminated:
            raise SandboxTerminatedError(f"sandbox {self._id} was terminated; create a new one")

    @abstractmethod
    def _do_exec(
        self, args: list[str], *, timeout: float | None, env: dict[str, str], cwd: str | None
    ) -> ExecResult: ...

    @abstractmethod
    def _do_write_file(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def _do_read_file(self, path: str) -> bytes: ...

    @abstractmethod
    def _do_terminate(self) -> None: ...

    # Backends whose transfers have a fixed cost override this to batch them.

    def _do_write_files(self, files: dict[str, bytes]) -> None:
        for path, data in files.items():
            self._do_write_file(path, data)
