"""Commands run in a sandbox (``TaskExecStart``), through Docker exec.

Output is kept whole per exec so a client can read from any offset, as the SDK does
after a reconnect. A timed-out exec has its whole process tree killed (every process
whose environment carries ``MODAL_STANDIN_EXEC=<exec_id>``, so children that started
their own session die too), its output streams end, and it never reports an exit code:
the SDK's own deadline then makes ``wait()`` return -1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import docker.errors

logger = logging.getLogger(__name__)

#: Environment variable marking every process of one exec (how a timeout finds them).
EXEC_MARKER = "MODAL_STANDIN_EXEC"
#: Largest message of an output stream (the SDK rejects empty ones, not big ones).
CHUNK = 256 * 1024
STDOUT, STDERR = 1, 2

# Kill every process whose environment has the marker; repeat while some are found,
# because a dying shell may still fork once more.
KILL_SCRIPT = """
for round in 1 2 3 4 5; do
  found=""
  for d in /proc/[0-9]*; do
    if grep -qxzF "$1" "$d/environ" 2>/dev/null; then
      kill -9 "${d#/proc/}" 2>/dev/null && found=1
    fi
  done
  [ -n "$found" ] || break
  sleep 0.05
done
"""


class OutputBuffer:
    """All output of one stream so far; readers wait for more until it is closed.

    Used from the event loop thread only.
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False
        self._changed = asyncio.Event()

    def append(self, chunk: bytes) -> None:
        """Add output and wake the readers."""
        if chunk and not self.closed:
            self.data += chunk
            self._notify()

    def close(self) -> None:
        """Mark the stream complete; readers finish once they have everything."""
        self.closed = True
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def chunks(self, offset: int) -> AsyncIterator[bytes]:
        """Non-empty chunks from ``offset`` on, until the stream is complete."""
        while True:
            if offset < len(self.data):
                chunk = bytes(self.data[offset : offset + CHUNK])
                offset += len(chunk)
                yield chunk
                continue
            if self.closed:
                return
            await self._changed.wait()


class ExecError(Exception):
    """An exec request the sandbox cannot serve; ``kind`` names the gRPC status to answer."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: Turns the raw (code, stdout, stderr) of an exec into what the client sees.
Transform = Callable[[int, bytes, bytes], tuple[int, bytes, bytes]]


@dataclass
class ExecRequest:
    """What to run and how, from ``TaskExecStartRequest`` (or the fs-tools emulation)."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    timeout_secs: int = 0
    keep_stdout: bool = True
    keep_stderr: bool = True
    #: ``stderr=STDOUT``: the process's stderr is delivered on the stdout stream.
    stderr_to_stdout: bool = False
    #: When set, output of the held streams is only released, transformed, at exit.
    transform: Transform | None = None
    hold_stdout: bool = False
    hold_stderr: bool = False


class Exec:
    """One running (or finished) command in a sandbox container."""

    def __init__(self, exec_id: str, request: ExecRequest, api: Any, pool: Executor) -> None:
        self.exec_id = exec_id
        self.request = request
        self.api = api
        self.pool = pool
        self.stdout = OutputBuffer()
        self.stderr = OutputBuffer()
        self.code: int | None = None
        self.timed_out = False
        #: The container went away under the command: its status is unknowable.
        self.lost = False
        self.finished = asyncio.Event()
        self.stdin_offset = 0
        self.stdin_closed = False
        self._stdin_lock = asyncio.Lock()
        self._held = {STDOUT: bytearray(), STDERR: bytearray()}
        self._sock: socket.socket | None = None
        self._docker_exec_id = ""
        self._container_id = ""
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def done(self) -> bool:
        """True once the command can take no more input."""
        return self.finished.is_set() or self.timed_out

    async def start(self, container_id: str) -> None:
        """Create and start the Docker exec; raise :class:`ExecError` if the sandbox is gone."""
        self._container_id = container_id
        env = {**self.request.env, EXEC_MARKER: self.exec_id}
        try:
            created = await self._run(
                self.api.exec_create,
                container_id,
                self.request.argv,
                stdin=True,
                stdout=True,
                stderr=True,
                environment=env,
                workdir=self.request.workdir or None,
            )
            self._docker_exec_id = created["Id"]
            raw = await self._run(self.api.exec_start, self._docker_exec_id, socket=True)
        except docker.errors.NotFound as exc:
            raise ExecError("NOT_FOUND", "Sandbox already finished") from exc
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # the container exists but is not running
                raise ExecError("FAILED_PRECONDITION", "Sandbox already finished") from exc
            raise ExecError("FAILED_PRECONDITION", f"docker exec failed: {exc}") from exc
        self._sock = getattr(raw, "_sock", raw)
        self._sock.settimeout(None)
        threading.Thread(
            target=self._read_output, args=(raw,), name=f"exec-{self.exec_id[:8]}", daemon=True
        ).start()
        if self.request.timeout_secs > 0:
            self._timer = self._loop.call_later(
                self.request.timeout_secs, lambda: asyncio.ensure_future(self.kill(timed_out=True))
            )

    async def _run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self._loop.run_in_executor(self.pool, lambda: func(*args, **kwargs))

    # -- output -------------------------------------------------------------------------

    def _read_output(self, raw: Any) -> None:
        """Thread: split Docker's multiplexed stream into stdout and stderr chunks."""
        sock = self._sock
        assert sock is not None
        pending = b""
        try:
            while True:
                data = sock.recv(CHUNK)
                if not data:
                    break
                pending += data
                while len(pending) >= 8:
                    fd, length = struct.unpack(">BxxxL", pending[:8])
                    if len(pending) < 8 + length:
                        break
                    frame, pending = pending[8 : 8 + length], pending[8 + length :]
                    self._loop.call_soon_threadsafe(self._on_output, fd, frame)
        except OSError as exc:
            logger.debug("exec %s output socket: %s", self.exec_id, exc)
        finally:
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._on_end()))
            del raw  # keeps the HTTP response (and so the socket) alive until here

    def _on_output(self, fd: int, frame: bytes) -> None:
        if self.timed_out:
            return
        if fd == STDERR and self.request.stderr_to_stdout:
            fd = STDOUT
        hold = self.request.hold_stdout if fd == STDOUT else self.request.hold_stderr
        keep = self.request.keep_stdout if fd == STDOUT else self.request.keep_stderr
        if hold:
            self._held[fd] += frame
        elif keep:
            (self.stdout if fd == STDOUT else self.stderr).append(frame)

    async def _on_end(self) -> None:
        """The output stream ended: the command exited (or its container went away)."""
        if self._timer is not None:
            self._timer.cancel()
        code = None if self.timed_out else await self._exit_code()
        if self.timed_out:
            return
        if code is None:
            self.lost = True
        else:
            code = self._release_held(code)
            self.code = code
        self.stdout.close()
        self.stderr.close()
        self._close_socket()
        self.finished.set()

    async def _exit_code(self) -> int | None:
        for _ in range(100):
            try:
                info = await self._run(self.api.exec_inspect, self._docker_exec_id)
            except docker.errors.APIError:
                return None
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(0.05)
        return None

    def _release_held(self, code: int) -> int:
        transform = self.request.transform
        if transform is None:
            return code
        code, out, err = transform(code, bytes(self._held[STDOUT]), bytes(self._held[STDERR]))
        if self.request.hold_stdout:
            self.stdout.append(out)
        if self.request.hold_stderr:
            self.stderr.append(err)
        return code

    # -- input --------------------------------------------------------------------------

    async def write_stdin(self, offset: int, data: bytes, eof: bool) -> None:
        """Write the bytes from ``offset`` on that are new; close stdin on ``eof``."""
        async with self._stdin_lock:
            skip = self.stdin_offset - offset
            if skip < 0:
                raise ExecError(
                    "OUT_OF_RANGE", f"stdin offset {offset} is past {self.stdin_offset} bytes"
                )
            new = data[skip:]
            if self.stdin_closed:
                if new:
                    raise ExecError("FAILED_PRECONDITION", "stdin of this exec is closed")
                return
            if new and self.done:
                raise ExecError("FAILED_PRECONDITION", "the process has already exited")
            sock = self._sock
            if sock is None:
                raise ExecError("FAILED_PRECONDITION", "the process has not started")
            if new:
                try:
                    await self._run(sock.sendall, new)
                except OSError as exc:
                    raise ExecError("FAILED_PRECONDITION", "the process has exited") from exc
                self.stdin_offset += len(new)
            if eof:
                self.stdin_closed = True
                # A failure means the process is gone: its stdin is as closed as it gets.
                with contextlib.suppress(OSError):
                    await self._run(sock.shutdown, socket.SHUT_WR)

    # -- ending -------------------------------------------------------------------------

    async def kill(self, timed_out: bool) -> None:
        """Kill the whole process tree of this exec; a timeout also ends the streams."""
        if self.finished.is_set():
            return
        if timed_out:
            self.timed_out = True
            self.stdout.close()
            self.stderr.close()
        try:
            created = await self._run(
                self.api.exec_create,
                self._container_id,
                ["/bin/sh", "-c", KILL_SCRIPT, "kill", f"{EXEC_MARKER}={self.exec_id}"],
                user="0",
            )
            await self._run(self.api.exec_start, created["Id"])
        except docker.errors.APIError as exc:
            logger.debug("killing exec %s: %s", self.exec_id, exc)
        self._close_socket()

    def abandon(self) -> None:
        """The sandbox ended: wake every waiter; the status stays unknown unless known."""
        if self._timer is not None:
            self._timer.cancel()
        self.stdout.close()
        self.stderr.close()
        if not self.finished.is_set() and not self.timed_out:
            self.lost = True
            self.finished.set()
        self._close_socket()

    def _close_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
