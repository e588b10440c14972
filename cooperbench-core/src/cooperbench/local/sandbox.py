"""A sandbox that is a private directory on the host.

The directory is a *virtual root*: sandbox paths such as ``/workspace/repo`` or
``/patches/x.patch`` live under it. Paths given to the file API and ``cwd`` always
refer to the virtual root; in command arguments and environment values, paths under the
sandbox's own directories (its workdir, ``/workspace``, ``/patches`` and
``/tmp/cooperbench``) are rewritten to the real location, and commands see the root in
``$SANDBOX_ROOT``. Every other path is the host's own: nothing is isolated.

Commands get a minimal environment (:mod:`cooperbench.local.environment`), not the
harness's. Every process a command starts carries the command's and the sandbox's
tokens in its environment, so a timeout or :meth:`~LocalSandbox.terminate` kills even
those that left the process group, and a watchdog process
(:mod:`cooperbench.local.watchdog`) does the same if the harness dies.

Command output is read from the pipes as it arrives into capped buffers, so a command
that prints gigabytes costs the harness no more than the sandbox's output limit.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from cooperbench.errors import (
    SandboxError,
    SandboxFileNotFoundError,
    SandboxIsADirectoryError,
    SandboxPermissionError,
    SandboxTerminatedError,
)
from cooperbench.exec_output import CappedOutput
from cooperbench.labels import PURPOSE, RUN, owner_labels
from cooperbench.local.environment import base_environment
from cooperbench.local.interpreter import install_shims, runner_python
from cooperbench.local.processes import EXEC_TOKEN_VAR, SANDBOX_TOKEN_VAR, kill_group, kill_tagged
from cooperbench.local.watchdog import start_watchdog
from cooperbench.local.workspace import RUNNER_DIR, materialize_task
from cooperbench.sandbox import ExecResult, SandboxBase, SandboxRequest, lifetime_exceeded
from cooperbench.sandbox_paths import PATCHES_DIR, SCRATCH_DIR, WORKSPACE_DIR

#: Held while a sandbox file is open for writing and while a command is spawned. A child
#: forked while another thread writes a file inherits that file's descriptor until it
#: execs, and executing the file meanwhile (a tool just installed) fails with "Text file
#: busy"; one lock for both makes that impossible.
_FORK_LOCK = threading.Lock()
SANDBOX_ROOT_VAR = "SANDBOX_ROOT"
#: Prefix of every local sandbox's folder in the temporary directory.
ROOT_PREFIX = "cooperbench-local-"
#: The file in a sandbox's folder holding its labels (owner, run, image).
LABELS_FILE = ".cooperbench-labels.json"
_FIXED_VIRTUAL_DIRS = (WORKSPACE_DIR, PATCHES_DIR, SCRATCH_DIR)
# Seconds terminate() waits for the watchdog to finish its sweep.
_WATCHDOG_EXIT_SECONDS = 10
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
        self._token = uuid.uuid4().hex
        # Fires when terminate() closes its stdin, or when this process dies.
        self._sweeper = start_watchdog(self._token, root, request.timeout)

    @classmethod
    def create(cls, request: SandboxRequest) -> LocalSandbox:
        """Make the private root, materialize the task if there is one, and label it."""
        root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX)).resolve()
        try:
            if request.task_dir is not None:
                materialize_task(Path(request.task_dir), root)
            python = runner_python()
            if python.shim and python.executable is not None:
                # The host's python3 lacks pytest: commands get the harness's instead.
                install_shims(root / RUNNER_DIR, python.executable)
            (root / request.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
            (root / SCRATCH_DIR.lstrip("/")).mkdir(parents=True, exist_ok=True)
            # The owner fields always describe this process: `cooperbench cleanup`
            # removes the folder once it is gone.
            owner = owner_labels(
                run=request.labels.get(RUN), purpose=request.labels.get(PURPOSE) or "sandbox"
            )
            labels = {**request.labels, **owner, "image": request.image}
            (root / LABELS_FILE).write_text(json.dumps(labels))
            return cls(root, request)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

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
            return lifetime_exceeded()
        limit = remaining if timeout is None else min(timeout, remaining)
        workdir = self.host_path(cwd or self.workdir)
        if not workdir.is_dir():
            raise SandboxError(f"working directory {cwd or self.workdir} does not exist in sandbox")
        command = [self.rewrite(arg) for arg in args]
        token = uuid.uuid4().hex
        if self._watchdog:
            command = [self._watchdog, "-s", "KILL", f"{remaining + _WATCHDOG_GRACE:.0f}", *command]
        started = time.monotonic()
        # Spawning under the lock that terminate() takes for its snapshot: a command is
        # either in that snapshot (and killed) or sees the sandbox terminated.
        with self._procs_lock:
            if self.terminated:
                raise SandboxTerminatedError(f"sandbox {self.id} was terminated")
            try:
                with _FORK_LOCK:
                    proc = subprocess.Popen(
                        command,
                        cwd=workdir,
                        env=self._environment(env, token),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        start_new_session=True,  # own process group: a timeout kills all
                    )
            except FileNotFoundError:
                return ExecResult(127, b"", f"{args[0]}: command not found\n".encode())
            except PermissionError:
                return ExecResult(126, b"", f"{args[0]}: permission denied\n".encode())
            self._procs.add(proc)
        try:
            return self._wait(proc, limit, started, token)
        finally:
            with self._procs_lock:
                self._procs.discard(proc)

    def _wait(
        self, proc: subprocess.Popen[bytes], limit: float, started: float, token: str
    ) -> ExecResult:
        out, err = CappedOutput(self.output_limit), CappedOutput(self.output_limit)
        pipes = _Pipes(proc, out, err)
        try:
            # Like communicate(): done once both pipes closed and the process exited.
            timed_out = not (
                pipes.drain(started + limit) and _exited(proc, started + limit - time.monotonic())
            )
            if timed_out:
                kill_group(proc.pid)
                # Descendants that left the process group still carry the token.
                kill_tagged(EXEC_TOKEN_VAR, token)
                # What the command printed before the kill is still in the pipes. A
                # descendant that escaped the token (a cleared environment) may hold
                # them open: stop waiting after a while and keep what arrived.
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

    def _environment(self, extra: dict[str, str], token: str) -> dict[str, str]:
        env = base_environment(self._root / "tmp")
        env.update({key: self.rewrite(value) for key, value in self._request.env.items()})
        env.update({key: self.rewrite(value) for key, value in extra.items()})
        env[SANDBOX_ROOT_VAR] = str(self._root)
        env["PATH"] = f"{self._root / RUNNER_DIR}{os.pathsep}{env.get('PATH', os.defpath)}"
        env[EXEC_TOKEN_VAR] = token
        env[SANDBOX_TOKEN_VAR] = self._token
        return env

    def _do_write_file(self, path: str, data: bytes) -> None:
        target = self.host_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader in the sandbox never sees half a file.
        with _FORK_LOCK:  # no child may inherit the file while it is open for writing
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
            kill_group(proc.pid)
        # The watchdog kills whatever else carries the sandbox's token, then removes
        # the folder; waiting for it makes terminate() leave nothing behind.
        if self._sweeper.stdin is not None:
            self._sweeper.stdin.close()
        try:
            self._sweeper.wait(_WATCHDOG_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            kill_tagged(SANDBOX_TOKEN_VAR, self._token)
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
