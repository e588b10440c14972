"""Messaging for the ``modal`` backend: Redis and a git daemon in Modal sandboxes.

Agents' sandboxes cannot reach each other on Modal, so each server runs in a sandbox of
its own and is reached through a Modal tunnel, from the agents' sandboxes and from the
harness alike:

- Redis (unless the user passed ``--redis URL``) behind an encrypted tunnel: Modal
  terminates TLS, so the URL is ``rediss://:<password>@<host>:<port>``, and the server
  requires a password generated for the run (it reaches the server as an environment
  variable of its sandbox, never on a command line).
- with ``--git``, a ``git daemon`` serving one bare repository behind an unencrypted
  tunnel (the git protocol has no TLS): ``git://<host>:<port>/<run>.git``. Anyone who
  learns the address could push to it while the run lasts; it holds only the agents'
  work on the task.

Both servers go to the run's app and environment (the request's backend options, as
the agents' sandboxes), carry the run's owner labels as tags (``cooperbench cleanup``
finds them),
stop by themselves after the request's lifetime, and are terminated by the session's
teardown. Their images are ``COOPERBENCH_REDIS_IMAGE`` (default ``redis:7-alpine``) and
``COOPERBENCH_GIT_IMAGE`` (default ``alpine/git:latest``): Modal pulls them from their
registry, and they need ``sh``; the git image needs ``git``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from typing import Any

from cooperbench.plugin import (
    DEFAULT_MESSAGING_LIFETIME,
    MessagingError,
    MessagingRequest,
    MessagingSession,
    RedisUrl,
    SandboxRequest,
    connect_redis,
    owner_labels,
)
from cooperbench.plugin import labels as cb_labels
from cooperbench_modal.client import modal_errors
from cooperbench_modal.sandbox import ModalSandbox, Ports

REDIS_IMAGE_VAR = "COOPERBENCH_REDIS_IMAGE"
GIT_IMAGE_VAR = "COOPERBENCH_GIT_IMAGE"
DEFAULT_REDIS_IMAGE = "redis:7-alpine"
DEFAULT_GIT_IMAGE = "alpine/git:latest"
REDIS_PORT = 6379
GIT_PORT = 9418
#: Seconds a server (and its tunnel) may take to start answering.
STARTUP_SECONDS = 60.0

# The password comes from the sandbox's environment; nothing is written to disk.
_REDIS_SCRIPT = (
    'exec redis-server --bind 0.0.0.0 --port "$1" --protected-mode no --save "" '
    '--appendonly no --requirepass "$COOPERBENCH_REDIS_PASSWORD"'
)
# Creates the run's bare repository, then serves it. $1 is the repository name.
_GIT_SCRIPT = (
    'set -e; mkdir -p /srv/git; git init -q --bare "/srv/git/$1"; '
    "exec git daemon --export-all --enable=receive-pack --base-path=/srv/git --reuseaddr "
    "--informative-errors /srv/git"
)


def setup_modal_messaging(request: MessagingRequest) -> MessagingSession:
    """Start what ``request`` needs in Modal sandboxes; return its session.

    If any step fails, what was started is terminated before the error propagates.
    """
    started = contextlib.ExitStack()
    try:
        if request.redis_url:
            url = RedisUrl.parse(request.redis_url).with_run(request.run_id)
            connect_redis(url).close()  # the user's server must answer, as for local
        else:
            url = _start_redis(request, started)
        git_url = _start_git(request, started) if request.git else None
    except BaseException:
        started.close()
        raise
    return MessagingSession(redis_url=str(url), git_url=git_url, teardown=started.close)


def _server_request(
    request: MessagingRequest, image: str, purpose: str, env: dict[str, str] | None = None
) -> SandboxRequest:
    run = request.labels.get(cb_labels.RUN) or request.run_id
    # The run's app, environment and pacing; servers are small: their size is Modal's.
    options: dict[str, Any] = {**request.options, "cpu": 0, "memory": 0}
    lifetime = request.lifetime if request.lifetime is not None else DEFAULT_MESSAGING_LIFETIME
    return SandboxRequest(
        image=image,
        timeout=max(1, int(lifetime)),
        workdir="/",
        network=True,
        env=env or {},
        labels={**request.labels, **owner_labels(run=run, purpose=purpose)},
        options=options,
    )


def _start_redis(request: MessagingRequest, started: contextlib.ExitStack) -> RedisUrl:
    password = secrets.token_urlsafe(24)
    image = os.environ.get(REDIS_IMAGE_VAR) or DEFAULT_REDIS_IMAGE
    server = _server_request(request, image, "redis", {"COOPERBENCH_REDIS_PASSWORD": password})
    sandbox = ModalSandbox.create(
        server,
        command=("/bin/sh", "-c", _REDIS_SCRIPT, "redis", str(REDIS_PORT)),
        ports=Ports(encrypted=(REDIS_PORT,)),
    )
    started.callback(sandbox.terminate)
    host, port = _tunnel(sandbox, REDIS_PORT, encrypted=True)
    url = RedisUrl.parse(f"rediss://:{password}@{host}:{port}").with_run(request.run_id)
    _wait_for_redis(url)
    return url


def _start_git(request: MessagingRequest, started: contextlib.ExitStack) -> str:
    image = os.environ.get(GIT_IMAGE_VAR) or DEFAULT_GIT_IMAGE
    repository = f"{request.run_id}.git"
    sandbox = ModalSandbox.create(
        _server_request(request, image, "git"),
        command=("/bin/sh", "-c", _GIT_SCRIPT, "git", repository),
        ports=Ports(unencrypted=(GIT_PORT,)),
    )
    started.callback(sandbox.terminate)
    probe = ["git", "ls-remote", f"git://127.0.0.1/{repository}"]
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        result = sandbox.exec(*probe, timeout=10, cwd="/")
        if result.ok:
            break
        if time.monotonic() > deadline:
            raise MessagingError(
                f"the git daemon in Modal sandbox {sandbox.id} did not answer within "
                f"{STARTUP_SECONDS:.0f}s: {result.stderr_read().strip() or 'no output'}"
            )
        time.sleep(0.5)
    host, port = _tunnel(sandbox, GIT_PORT, encrypted=False)
    return f"git://{host}:{port}/{repository}"


def _tunnel(sandbox: ModalSandbox, port: int, *, encrypted: bool) -> tuple[str, int]:
    """The public ``(host, port)`` of the sandbox's tunnel to ``port``."""
    with modal_errors(f"reading the tunnels of Modal sandbox {sandbox.id}"):
        tunnels = sandbox.handle.tunnels(timeout=int(STARTUP_SECONDS))
    tunnel = tunnels.get(port)
    if tunnel is None:
        raise MessagingError(f"Modal gave Modal sandbox {sandbox.id} no tunnel to port {port}")
    if encrypted:
        return str(tunnel.host), int(tunnel.port)
    host, public = tunnel.tcp_socket
    return str(host), int(public)


def _wait_for_redis(url: RedisUrl) -> None:
    """Connect through the tunnel until Redis answers (a fresh tunnel may lag)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            connect_redis(url, timeout=5.0).close()
            return
        except MessagingError as exc:
            if time.monotonic() > deadline:
                raise MessagingError(
                    f"the run's Redis on Modal did not answer at {url.address} within "
                    f"{STARTUP_SECONDS:.0f}s ({exc})"
                ) from exc
        time.sleep(0.5)
