"""Running one command in a container with a time limit that really kills it.

Docker's exec API has no timeout and no way to kill an exec. So every command runs
under a small ``sh`` wrapper: the exec'd process is a session and process-group leader
(the runtime calls ``setsid`` for it), the wrapper writes its pid to a file named by a
per-command token and puts the same token in the command's environment. On timeout a
second exec kills, as root, every process of that session or process group and every
process carrying the token (which also catches children that started their own
session), repeating until none is left. Output is read from the exec's own connection
with deadlines, so the caller returns promptly even when something still holds the
output pipes, and into capped buffers, so a command that prints gigabytes costs the
harness no more than the sandbox's output limit.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
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

#: Seconds to wait for output to end after the kill, before dropping the connection.
DRAIN_SECONDS = 5.0
#: Seconds the kill helper itself may take.
KILL_SECONDS = 15.0

WRAPPER = exec_wrapper()

_HEADER = struct.Struct(">BxxxL")
_STDERR = 2


class ExecStream:
    """Reads one exec's multiplexed stdout/stderr from its connection, with deadlines.

    Each stream keeps at most ``output_limit`` bytes (its start and its end).
    """

    def __init__(self, connection: Any, output_limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        self._connection = connection
        # For a Unix socket the SDK hands back a SocketIO around the real socket; for
        # TLS the SSL socket; for SSH a channel. Read the innermost object.
        self._socket: Any = getattr(connection, "_sock", connection)
        self._buffer = bytearray()
        self.stdout = CappedOutput(output_limit)
        self.stderr = CappedOutput(output_limit)
        self.ended = False

    def read_until(self, deadline: float) -> bool:
        """Read until the output ends (then True) or ``deadline`` passes (then False)."""
        while not self.ended:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return False
            if not self._pending() and not _readable(self._socket, min(wait, 1.0)):
                continue
            try:
                chunk = self._socket.recv(1 << 16)
            except (TimeoutError, BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.ended = True
            else:
                self._feed(chunk)
        return True

    def close(self) -> None:
        """Drop the connection (also unblocks a daemon still writing to it)."""
        for closable in (self._socket, self._connection):
            with contextlib.suppress(OSError):
                if hasattr(closable, "shutdown"):
                    closable.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                closable.close()

    def _pending(self) -> bool:
        pending = getattr(self._socket, "pending", None)  # TLS may hold decrypted bytes
        return bool(pending()) if callable(pending) else False

    def result(self, returncode: int, *, started: float, timed_out: bool = False) -> ExecResult:
        """What the command produced, as an :class:`~cooperbench.sandbox.ExecResult`."""
        return ExecResult(
            returncode,
            self.stdout.render(),
            self.stderr.render(),
            timed_out=timed_out,
            duration=time.monotonic() - started,
            stdout_dropped=self.stdout.dropped,
            stderr_dropped=self.stderr.dropped,
        )

    def _feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        offset = 0
        with memoryview(self._buffer) as view:
            while len(view) - offset >= _HEADER.size:
                kind, size = _HEADER.unpack_from(view, offset)
                end = offset + _HEADER.size + size
                if len(view) < end:
                    break
                target = self.stderr if kind == _STDERR else self.stdout
                target.append(view[offset + _HEADER.size : end])
                offset = end
        del self._buffer[:offset]


def _readable(connection: Any, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``connection`` to have data (or be closed)."""
    if hasattr(select, "poll"):
        # poll, unlike select, works for descriptors above 1023 (many open sandboxes).
        poller = select.poll()
        poller.register(connection, select.POLLIN | select.POLLPRI | select.POLLHUP)
        return bool(poller.poll(timeout * 1000))
    ready, _, _ = select.select([connection], [], [], timeout)
    return bool(ready)


def start_exec(
    api: Any,
    container_id: str,
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    workdir: str | None = None,
    user: str = "",
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> tuple[str, ExecStream]:
    """Start ``command`` in the container; return the exec id and its output stream."""
    exec_id = api.exec_create(
        container_id,
        command,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        environment=dict(env or {}),
        workdir=workdir,
        user=user,
    )["Id"]
    return exec_id, ExecStream(api.exec_start(exec_id, socket=True), output_limit)


def exit_code(api: Any, exec_id: str, wait: float = 5.0) -> int:
    """The exit status of a finished exec (its output has ended, the process may lag)."""
    deadline = time.monotonic() + wait
    while True:
        state = api.exec_inspect(exec_id)
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        if time.monotonic() >= deadline:
            raise SandboxError(f"command {exec_id[:12]} ended its output but did not exit")
        time.sleep(0.02)


def run_command(
    api: Any,
    container_id: str,
    args: list[str],
    *,
    env: Mapping[str, str],
    workdir: str,
    limit: float,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> ExecResult:
    """Run ``args`` (no shell) for at most ``limit`` seconds and collect what it did.

    On timeout the command and everything it started are killed and the result has
    ``timed_out=True`` and status 137. Each output stream keeps at most
    ``output_limit`` bytes. Docker SDK errors propagate to the caller.
    """
    token = uuid.uuid4().hex
    started = time.monotonic()
    exec_id, stream = start_exec(
        api,
        container_id,
        ["/bin/sh", "-c", WRAPPER, "cooperbench-exec", token, *args],
        env={**env, EXEC_TOKEN_VAR: token},
        workdir=workdir,
        output_limit=output_limit,
    )
    try:
        if not stream.read_until(started + limit):
            # A second round catches a command that was still starting at the first.
            for _ in range(2):
                kill_command(api, container_id, token)
                if stream.read_until(time.monotonic() + DRAIN_SECONDS / 2):
                    break
            return stream.result(KILLED_STATUS, started=started, timed_out=True)
    finally:
        stream.close()
    code = exit_code(api, exec_id)
    _raise_if_not_started(code, stream, workdir)
    return stream.result(code, started=started)


def kill_command(api: Any, container_id: str, token: str) -> None:
    """Kill the command started with ``token`` and all its processes (best effort)."""
    try:
        _, stream = start_exec(
            api, container_id, ["/bin/sh", "-c", KILL_SCRIPT, "cooperbench-kill", token], user="0"
        )
    except Exception:  # noqa: BLE001 - the container may be stopping at its lifetime cap
        return
    try:
        stream.read_until(time.monotonic() + KILL_SECONDS)
    finally:
        stream.close()


def run_quietly(api: Any, container_id: str, args: list[str], limit: float = 60.0) -> int | None:
    """Run a short helper command; return its status, or ``None`` when it did not finish."""
    exec_id, stream = start_exec(api, container_id, args)
    try:
        finished = stream.read_until(time.monotonic() + limit)
    finally:
        stream.close()
    return exit_code(api, exec_id) if finished else None


def _raise_if_not_started(code: int, stream: ExecStream, workdir: str) -> None:
    # The daemon reports an exec that could not start (missing working directory, no
    # /bin/sh in the image) as status 126 with its own message on stdout.
    if code not in (126, 127):
        return
    head = stream.stdout.head
    if not head.startswith(b"OCI runtime exec failed"):
        return
    message = head.decode("utf-8", errors="replace").strip()
    if "chdir to cwd" in message:
        raise SandboxError(f"working directory {workdir} does not exist in the sandbox")
    if "/bin/sh" in message:
        raise SandboxError(
            "the image has no /bin/sh, which the docker backend needs to run commands; "
            "use an image with a POSIX shell"
        )
    raise SandboxError(f"could not start the command: {message.splitlines()[0]}")
