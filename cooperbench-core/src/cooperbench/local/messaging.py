"""Messaging for the ``local`` backend: a private Redis and a git daemon on loopback.

Local sandboxes share the host's network, so servers bound to 127.0.0.1 are reachable
from them. Each server runs under a small ``sh`` watchdog holding a pipe from this
process: if the harness dies without tearing down (even by SIGKILL), the pipe closes
and the watchdog stops the server, so nothing is left running.

Redis is ``redis-server`` from ``PATH``, with a password generated for the run. Without
one (a bare machine), it is the embedded Redis-compatible server of
:mod:`cooperbench.local.embedded_redis`, which runs inside this process and so stops
with it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from cooperbench.errors import MessagingError
from cooperbench.labels import owner_labels
from cooperbench.local.embedded_redis import EmbeddedRedis
from cooperbench.messaging.resp import RedisConnection, connect
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.messaging.url import RedisUrl

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
#: Seconds a server may take to start answering.
STARTUP_SECONDS = 15.0
#: Seconds a server gets to exit after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 5.0
_PORT_ATTEMPTS = 3

# Usage: sh -c "$_WATCHDOG" sh FOLDER SERVER [ARGS...]. Runs the server and stops it when
# stdin, a pipe from the harness, reaches EOF (the harness died: the watcher leaves a
# mark and FOLDER is removed here too) or when the watchdog gets SIGTERM (teardown). It
# waits for the server, so a finished watchdog means a stopped server. The EOF reader
# needs its own descriptor because a background job's stdin is /dev/null.
_WATCHDOG = """
folder=$1
shift
exec 3<&0
"$@" </dev/null 3<&- &
server=$!
trap 'kill "$server" 2>/dev/null' TERM
(read _ignored <&3; : >"$folder/.harness-gone"; kill "$server" 2>/dev/null) &
watcher=$!
exec 3<&-
wait "$server"
while kill -0 "$server" 2>/dev/null; do wait "$server"; done
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
if [ -e "$folder/.harness-gone" ]; then cd / && rm -rf "$folder"; fi
exit 0
"""


@attrs.define
class ServerProcess:
    """A server started for one run, with the temporary folder it owns."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    folder: Path

    @property
    def log(self) -> Path:
        """Where the server's output goes."""
        return self.folder / f"{self.name}.log"

    def log_tail(self, lines: int = 5) -> str:
        """The end of the server's output, for error messages."""
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its folder."""
        try:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGTERM)  # the watchdog stops the server
                try:
                    self.process.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    _signal_group(self.process, signal.SIGKILL)
                    self.process.wait()
            # Whatever the server forked (git daemon serves each client in a child).
            _signal_group(self.process, signal.SIGKILL)
        finally:
            if self.process.stdin is not None:
                self.process.stdin.close()
            shutil.rmtree(self.folder, ignore_errors=True)


def setup_local_messaging(request: MessagingRequest) -> MessagingSession:
    """Start what ``request`` needs and return the session that stops it again.

    With ``request.redis_url`` that server is checked (it must answer PING) and used;
    otherwise a private ``redis-server`` is started, or the embedded server when there
    is no ``redis-server``. With ``request.git`` a bare repository is served by
    ``git daemon``. If any step fails, what was started is stopped before the error
    propagates.
    """
    started = contextlib.ExitStack()
    try:
        if request.redis_url:
            url = RedisUrl.parse(request.redis_url).with_run(request.run_id)
            connect(url).close()
        else:
            url = _private_redis(request, started)
        git_url = None
        if request.git:
            daemon = _start_with_retries(lambda port: _start_git_daemon(port, request))
            started.callback(daemon.stop)
            git_url = f"git://{LOOPBACK}:{daemon.port}/{request.run_id}.git"
    except BaseException:
        started.close()
        raise
    return MessagingSession(redis_url=str(url), git_url=git_url, teardown=started.close)


def _private_redis(request: MessagingRequest, started: contextlib.ExitStack) -> RedisUrl:
    """Start the run's own Redis, stopped by ``started``; return its URL for the run."""
    binary = shutil.which("redis-server")
    if binary is None:
        logger.info("no redis-server on PATH; using the embedded Redis-compatible server")
        embedded = EmbeddedRedis.start(LOOPBACK)
        started.callback(embedded.stop)
        return RedisUrl(
            LOOPBACK,
            embedded.port,
            username=embedded.username,
            password=embedded.password,
            run_id=request.run_id,
        )
    password = secrets.token_urlsafe(24)
    redis = _start_with_retries(lambda port: _start_redis(binary, port, password, request))
    started.callback(redis.stop)
    return RedisUrl(LOOPBACK, redis.port, password=password, run_id=request.run_id)


def _start_redis(binary: str, port: int, password: str, request: MessagingRequest) -> ServerProcess:
    folder = _server_folder("redis", request)
    # The password goes in a file only this user can read, not on the command line.
    config = folder / "redis.conf"
    config.touch(mode=0o600)
    config.write_text(f"requirepass {password}\n")
    command = [binary, str(config), "--port", str(port), "--bind", LOOPBACK, "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder), "--daemonize", "no"]
    server = _spawn("redis", port, command, folder)
    url = RedisUrl(LOOPBACK, port, password=password)
    _wait_until(server, lambda: _redis_answers(url))
    return server


def _start_git_daemon(port: int, request: MessagingRequest) -> ServerProcess:
    binary = shutil.which("git")
    if binary is None:
        raise MessagingError("git not found; install git or run without --git")
    folder = _server_folder("git", request)
    repositories = folder / "repositories"
    init = subprocess.run(
        [binary, "init", "-q", "--bare", str(repositories / f"{request.run_id}.git")],
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise MessagingError(f"could not create the shared repository: {init.stderr.strip()}")
    command = [binary, "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr"]
    command += [f"--base-path={repositories}", f"--listen={LOOPBACK}", f"--port={port}"]
    command += ["--informative-errors", str(repositories)]
    server = _spawn("git-daemon", port, command, folder)
    _wait_until(server, lambda: _accepts(port))
    return server


def _server_folder(kind: str, request: MessagingRequest) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"cooperbench-{kind}-{request.run_id}-")).resolve()
    # The same labels sandboxes carry, so leftovers can be traced to their run.
    labels = {**request.labels, **owner_labels(run=request.run_id, purpose=kind)}
    (folder / ".cooperbench-labels.json").write_text(json.dumps(labels))
    return folder


def _spawn(name: str, port: int, command: list[str], folder: Path) -> ServerProcess:
    log = folder / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["sh", "-c", _WATCHDOG, "sh", str(folder), *command],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,  # own group: Ctrl-C reaches us, teardown stops it in order
        )
    return ServerProcess(name, port, process, folder)


def _wait_until(server: ServerProcess, ready: Callable[[], bool]) -> None:
    """Wait for ``ready()``; stop the server and raise if it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while not ready():
            if server.process.poll() is not None:
                raise _StartFailed(
                    f"{server.name} exited at startup: {server.log_tail() or 'no output'}"
                )
            if time.monotonic() > deadline:
                raise MessagingError(
                    f"{server.name} did not answer on {LOOPBACK}:{server.port} within "
                    f"{STARTUP_SECONDS:.0f}s: {server.log_tail() or 'no output'}"
                )
            time.sleep(0.02)
    except BaseException:
        server.stop()
        raise


class _StartFailed(MessagingError):
    """A server exited during startup (most often: its port was taken meanwhile)."""


def _start_with_retries(start: Callable[[int], ServerProcess]) -> ServerProcess:
    # A free port can be taken between probing and binding; another one usually works.
    attempts_left = _PORT_ATTEMPTS
    while True:
        try:
            return start(_free_port())
        except _StartFailed:
            attempts_left -= 1
            if attempts_left == 0:
                raise


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _redis_answers(url: RedisUrl) -> bool:
    connection = RedisConnection(url, timeout=1.0)
    try:
        connection.ping()
    except MessagingError:  # refused, or still loading ("-LOADING ...")
        return False
    finally:
        connection.close()
    return True


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1.0):
            return True
    except OSError:
        return False


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
