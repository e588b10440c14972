"""Running one command in a Modal sandbox with a time limit that really kills it.

Every command runs under a small ``sh`` wrapper. The wrapper enters the working
directory (reporting a missing one with a per-command token, so it is told apart from
the command's own output), records its pid in a file named by the token, puts the token
in the command's environment and runs the command in a subshell that ``exec``\\ s it, so
a missing program is 127 and a non-executable one 126, as in any shell.

The SDK delivers output only while it is read: a stream read after the exec's deadline
comes back empty. So stdout and stderr are read on their own threads as the command
runs, into capped buffers, while a third thread waits for the exit status. At the time
limit the command and everything it started are killed by a second exec (every process
of the wrapper's session or process group, and every process carrying the token), and
Modal's own exec timeout, set a little later, stops whatever that missed.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from cooperbench.plugin import (
    DEFAULT_OUTPUT_LIMIT,
    EXEC_TOKEN_VAR,
    KILL_SCRIPT,
    KILLED_STATUS,
    CappedOutput,
    ExecResult,
    SandboxError,
    exec_wrapper,
)

#: Seconds Modal's exec timeout runs past ours, so our kill (and its output) comes first.
SERVER_GRACE = 10.0
#: Seconds to wait for the output to end after the kill.
DRAIN_SECONDS = 5.0
#: Seconds without new output, once the command has exited, after which its output
#: counts as complete (a background child may hold the pipes open).
LINGER_SECONDS = 2.0
#: Seconds the kill helper itself may take.
KILL_SECONDS = 15.0

WRAPPER = exec_wrapper(enter_workdir=True)


class _Collector:
    """Reads an exec's two output streams and its exit status on background threads."""

    def __init__(self, process: Any, output_limit: int) -> None:
        self.stdout = CappedOutput(output_limit)
        self.stderr = CappedOutput(output_limit)
        self.returncode: int | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._streams_done = threading.Event()
        self._exited = threading.Event()
        self._pending = 2
        self._threads = [
            threading.Thread(target=self._read, args=(process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self.stderr), daemon=True),
            threading.Thread(target=self._wait, args=(process,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: Any, sink: CappedOutput) -> None:
        try:
            for chunk in stream:
                if chunk:
                    with self._lock:
                        sink.append(chunk if isinstance(chunk, bytes) else chunk.encode())
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = self.error or exc
        finally:
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._streams_done.set()

    def _wait(self, process: Any) -> None:
        try:
            self.returncode = int(process.wait())
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = self.error or exc
        finally:
            self._exited.set()

    def finish_by(self, deadline: float) -> bool:
        """Wait until the command has exited and its output ended (or lingered long
        enough after the exit), or ``deadline`` passes; True when it finished."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._exited.wait(min(left, 0.5)):
                break
            if self.error is not None and self._streams_done.is_set():
                return True  # the streams failed; the wait reports the same failure
        # The output may still be arriving (a large one streams for a while); stop
        # waiting only once it has stalled, as when a background child holds the pipes.
        seen = -1
        while seen != self._received() and time.monotonic() < deadline:
            seen = self._received()
            left = max(0.0, deadline - time.monotonic())
            if self._streams_done.wait(min(LINGER_SECONDS, left)):
                break
        return True

    def _received(self) -> int:
        with self._lock:
            return self.stdout.total + self.stderr.total

    def streams_ended(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for both streams to end."""
        return self._streams_done.wait(wait)

    def result(self, returncode: int, *, started: float, timed_out: bool = False) -> ExecResult:
        """What the command produced, as an :class:`~cooperbench.sandbox.ExecResult`."""
        with self._lock:
            return ExecResult(
                returncode,
                self.stdout.render(),
                self.stderr.render(),
                timed_out=timed_out,
                duration=time.monotonic() - started,
                stdout_dropped=self.stdout.dropped,
                stderr_dropped=self.stderr.dropped,
            )


def run_command(
    sandbox: Any,
    args: list[str],
    *,
    env: Mapping[str, str],
    workdir: str,
    limit: float,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> ExecResult:
    """Run ``args`` (no shell) for at most ``limit`` seconds in the Modal ``sandbox``.

    On timeout the command and everything it started are killed and the result has
    ``timed_out=True`` and status 137, with the output produced until then. A missing
    ``workdir`` raises :class:`SandboxError`. SDK errors propagate to the caller.
    """
    token = uuid.uuid4().hex
    started = time.monotonic()
    process = sandbox.exec(
        "/bin/sh",
        "-c",
        WRAPPER,
        "cooperbench-exec",
        token,
        workdir,
        *args,
        env={**env, EXEC_TOKEN_VAR: token},
        timeout=max(1, math.ceil(limit + SERVER_GRACE)),
        text=False,
    )
    collector = _Collector(process, output_limit)
    if not collector.finish_by(started + limit):
        kill_command(sandbox, token)
        collector.streams_ended(DRAIN_SECONDS)
        return collector.result(KILLED_STATUS, started=started, timed_out=True)
    if collector.returncode is None:
        raise collector.error or SandboxError(f"{args[0]} ended without an exit status")
    code = collector.returncode
    if code == -1:
        # The SDK's own deadline passed: Modal stopped the command.
        return collector.result(KILLED_STATUS, started=started, timed_out=True)
    if code == 125 and collector.stderr.head == f"{token}\n".encode():
        raise SandboxError(f"working directory {workdir} does not exist in the sandbox")
    return collector.result(code, started=started)


def kill_command(sandbox: Any, token: str) -> None:
    """Kill the command started with ``token`` and all its processes (best effort)."""
    try:
        process = sandbox.exec(
            "/bin/sh",
            "-c",
            KILL_SCRIPT,
            "cooperbench-kill",
            token,
            timeout=int(KILL_SECONDS),
            text=False,
        )
        process.wait()
    except Exception:  # noqa: BLE001 - the sandbox may be stopping at its lifetime cap
        return


def run_quietly(sandbox: Any, args: list[str], limit: float = 60.0) -> tuple[int, bytes]:
    """Run a short helper command; return its status and stderr (``-1`` when too slow)."""
    result = run_command(sandbox, args, env={}, workdir="/", limit=limit, output_limit=64 * 1024)
    return (-1 if result.timed_out else result.returncode), result.stderr
