"""A sandbox that is a private directory on the host.

The directory is a *virtual root*: sandbox paths such as ``/workspace/repo`` or
``/patches/x.patch`` live under it. Paths given to the file API and ``cwd`` always
refer to the virtual root; in command arguments and environment values, paths under the
sandbox's own directories (its workdir, ``/workspace``, ``/patches`` and
``/tmp/cooperbench``) are rewritten to the real location, and commands see the root in
``$SANDBOX_ROOT``. Every other path is the host's own: nothing is isolated.

Command output is read from the pipes as it arrives into capped buffers, so a command
that prints gigabytes costs the harness no more than the sandbox's output limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from cooperbench.errors import (
    SandboxError,
    SandboxFileNotFoundError,
    SandboxIsADirectoryError,
    SandboxPermissionError,
    SandboxTerminatedError,
)
from cooperbench.exec_output import CappedOutput
from cooperbench.local.workspace import RUNNER_DIR, materialize_task
from cooperbench.sandbox import ExecResult, SandboxBase, SandboxRequest

SANDBOX_ROOT_VAR = "SANDBOX_ROOT"
_FIXED_VIRTUAL_DIRS = ("/workspace", "/patches", "/tmp/cooperbench")
# Seconds a command may outlive the Python-side lifetime check before the coreutils
# `timeout` wrapper kills it: the wrapper only matters when the harness itself died.
_WATCHDOG_GRACE = 5
# How long to wait for output pipes to close after killing a command's process group.
_DRAIN_SECONDS = 5
# Bytes read from a pipe at a time.
_CHUNK = 1 << 16


class LocalSandbox(SandboxBase):
    """Runs commands on the host inside a private temporary directory."""

    def __init__(self, root: Path, request: SandboxRequest) -> None:
        super().__init__(str(root), request.workdir, output_limit=request.output_limit)
        self._root = root
        self._request = request
        self._deadline = time.monotonic() + request.timeout
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._procs_lock = threading.Lock()
        prefixes = sorted({request.workdir.rstrip("/") or "/", *_FIXED_VIRTUAL_DIRS}, key=len)
        alternatives = "|".join(re.escape(p) for p in reversed(prefixes))
        # A prefix counts only at the start of a path: not preceded by a path character,
        # and followed by a separator or the end of the token.
        self._virtual = re.compile(rf"(?<![\w./-])({alternatives})(?=/|$|[\s:;,'\"])")
        self._watchdog = shutil.which("timeout")

    @classmethod
    def create(cls, request: SandboxRequest) -> LocalSandbox:
        """Make the private root, materialize the task if there is one, and label it."""
        root = Path(tempfile.mkdtemp(prefix="cooperbench-local-")).resolve()
        try:
            if request.task_dir is not None:
                materialize_task(Path(request.task_dir), root)
            (root / request.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
            (root / "tmp" / "cooperbench").mkdir(parents=True, exist_ok=True)
            labels = {**request.labels, "image": request.image, "created": str(time.time())}
            (root / ".cooperbench-labels.json").write_text(json.dumps(labels))
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(root, request)

    @property
    def root(self) -> Path:
        """The real directory that holds this sandbox's virtual root."""
        return self._root

    def host_path(self, path: str) -> Path:
        """The real location of the sandbox path ``path``."""
        return self._root / self.resolve(path).lstrip("/")

    def rewrite(self, text: str) -> str:
        """Rewrite paths under the sandbox's own directories to their real location."""
        return self._virtual.sub(lambda match: f"{self._root}{match.group(1)}", text)

    def _do_exec(
        self, args: list[str], *, timeout: float | None, env: dict[str, str], cwd: str | None
    ) -> ExecResult:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return ExecResult(137, b"", b"sandbox lifetime exceeded\n", timed_out=True)
        limit = remaining if timeout is None else min(timeout, remaining)
        workdir = self.host_path(cwd or self.workdir)
        if not workdir.is_dir():
            raise SandboxError(f"working directory {cwd or self.workdir} does not exist in sandbox")
        command = [self.rewrite(arg) for arg in args]
        if self._watchdog:
            command = [self._watchdog, "-s", "KILL", f"{remaining + _WATCHDOG_GRACE:.0f}", *command]
        started = time.monotonic()
        # Spawning under the lock that terminate() takes for its snapshot: a command is
        # either in that snapshot (and killed) or sees the sandbox terminated.
        with self._procs_lock:
            if self.terminated:
                raise SandboxTerminatedError(f"sandbox {self.id} was terminated")
            try:
                proc = subprocess.Popen(
                    command,
                    cwd=workdir,
                    env=self._environment(env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,  # own process group: a timeout kills everything
                )
            except FileNotFoundError:
                return ExecResult(127, b"", f"{args[0]}: command not found\n".encode())
            except PermissionError:
                return ExecResult(126, b"", f"{args[0]}: permission denied\n".encode())
            self._procs.add(proc)
        try:
            return self._wait(proc, limit, started)
        finally:
            with self._procs_lock:
                self._procs.discard(proc)

    def _wait(self, proc: subprocess.Popen[bytes], limit: float, started: float) -> ExecResult:
        out, err = CappedOutput(self.output_limit), CappedOutput(self.output_limit)
        pipes = _Pipes(proc, out, err)
        try:
            # Like communicate(): done once both pipes closed and the process exited.
            timed_out = not (
                pipes.drain(started + limit) and _exited(proc, started + limit - time.monotonic())
            )
            if timed_out:
                _kill_group(proc)
                # What the command printed before the kill is still in the pipes. A
                # descendant that left the process group may hold them open: stop
                # waiting after a while and keep what arrived.
                pipes.drain(time.monotonic() + _DRAIN_SECONDS)
                proc.wait()
        finally:
            pipes.close()
        code = proc.returncode
        return ExecResult(
            returncode=137 if timed_out else (128 - code if code < 0 else code),
            stdout=out.render(),
            stderr=err.render(),
            timed_out=timed_out,
            duration=time.monotonic() - started,
            stdout_dropped=out.dropped,
            stderr_dropped=err.dropped,
        )

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.pop(SANDBOX_ROOT_VAR, None)
        env.update({key: self.rewrite(value) for key, value in self._request.env.items()})
        env.update({key: self.rewrite(value) for key, value in extra.items()})
        env[SANDBOX_ROOT_VAR] = str(self._root)
        env["PATH"] = f"{self._root / RUNNER_DIR}{os.pathsep}{env.get('PATH', os.defpath)}"
        return env

    def _do_write_file(self, path: str, data: bytes) -> None:
        target = self.host_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader in the sandbox never sees half a file.
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def _do_read_file(self, path: str) -> bytes:
        target = self.host_path(path)
        try:
            return target.read_bytes()
        except IsADirectoryError as exc:
            raise SandboxIsADirectoryError(f"{path} in sandbox is a directory, not a file") from exc
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise SandboxFileNotFoundError(f"no file {path} in sandbox") from exc
        except PermissionError as exc:
            raise SandboxPermissionError(
                f"no permission to read {path} in sandbox (check its mode and owner)"
            ) from exc

    def _do_terminate(self) -> None:
        with self._procs_lock:
            running = list(self._procs)
        for proc in running:
            _kill_group(proc)
        shutil.rmtree(self._root, ignore_errors=True)


class _Pipes:
    """A command's stdout and stderr pipes, read without threads into capped buffers.

    One selector in the calling thread reads both, as ``communicate`` does on POSIX:
    nothing is left blocked in a read when a pipe never closes, and closing the pipes
    afterwards is safe.
    """

    def __init__(self, proc: subprocess.Popen[bytes], out: CappedOutput, err: CappedOutput) -> None:
        self._files = [f for f in (proc.stdout, proc.stderr) if f is not None]
        self._selector = selectors.DefaultSelector()
        for file, sink in zip((proc.stdout, proc.stderr), (out, err), strict=True):
            if file is not None:
                self._selector.register(file, selectors.EVENT_READ, sink)

    def drain(self, deadline: float) -> bool:
        """Read until both pipes are closed (then True) or ``deadline`` passes (False)."""
        while self._selector.get_map():
            wait = deadline - time.monotonic()
            if wait <= 0:
                return False
            for key, _ in self._selector.select(wait):
                chunk = os.read(key.fd, _CHUNK)
                if chunk:
                    key.data.append(chunk)
                else:
                    self._selector.unregister(key.fileobj)
        return True

    def close(self) -> None:
        """Stop reading and close both pipes."""
        self._selector.close()
        for file in self._files:
            file.close()


def _exited(proc: subprocess.Popen[bytes], wait: float) -> bool:
    """Wait up to ``wait`` seconds for ``proc`` to exit; True when it has."""
    try:
        proc.wait(timeout=max(wait, 0))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
