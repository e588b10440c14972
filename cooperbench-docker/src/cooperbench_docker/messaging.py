"""Messaging for the ``docker`` backend: Redis and a git daemon on a per-run network.

Each run gets its own user-defined bridge network. A Redis container (unless the user
passed ``--redis URL``) and, when asked, a ``git daemon`` container serving one bare
repository join it; agent sandboxes join it too (through the ``network`` sandbox
option in :attr:`MessagingSession.sandbox_options`) and reach both by container name
through Docker's embedded DNS. Evaluation sandboxes, which are not on the network,
cannot reach them.

The harness itself is not on the network: it reads the run's message log through the
Redis port published on 127.0.0.1 (or, failing that, the container's address on the
network), given as :attr:`MessagingSession.host_redis_url`.

Everything carries the owner labels and the same ``cooperbench.run`` label as the run's
sandboxes, so ``cooperbench cleanup`` removes what a killed run left behind; and every
server stops (and its container is removed) after the request's lifetime, so a killed
harness leaves nothing running for long. The session's teardown removes the containers,
then the network.

The Redis image is ``COOPERBENCH_REDIS_IMAGE`` (default ``redis:7-alpine``). When it is
missing and cannot be pulled, a small image :data:`FALLBACK_REDIS_IMAGE` is built once
from ``COOPERBENCH_BASE_IMAGE`` (default ``cooperbench/base:bookworm``), which also
runs the git daemon (it needs ``git``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from cooperbench.plugin import (
    DEFAULT_MESSAGING_LIFETIME,
    MessagingError,
    MessagingRequest,
    MessagingSession,
    RedisUrl,
    connect_redis,
    owner_labels,
)
from cooperbench.plugin import labels as cb_labels
from cooperbench_docker.client import connect, docker_errors, explain, is_not_found
from cooperbench_docker.container import remove_container
from cooperbench_docker.images import image_lock, local_image_id, try_pull

logger = logging.getLogger(__name__)

REDIS_IMAGE_VAR = "COOPERBENCH_REDIS_IMAGE"
BASE_IMAGE_VAR = "COOPERBENCH_BASE_IMAGE"
DEFAULT_REDIS_IMAGE = "redis:7-alpine"
DEFAULT_BASE_IMAGE = "cooperbench/base:bookworm"
#: Tag of the Redis image built from the base image when no Redis image is available.
FALLBACK_REDIS_IMAGE = "cooperbench/redis:local"
REDIS_PORT = 6379
#: Seconds a server may take to start answering.
STARTUP_SECONDS = 30.0
#: Seconds one readiness probe (an exec in the server's container) may take.
_PROBE_SECONDS = 10

_FALLBACK_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \\
 && rm -rf /var/lib/apt/lists/*
"""

_REDIS_COMMAND = [
    "redis-server",
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--save",
    "",
    "--appendonly",
    "no",
]

# Creates the run's bare repository, then serves it. $1 is the repository name.
_GIT_DAEMON_SCRIPT = """
set -e
mkdir -p /srv/git
git init -q --bare "/srv/git/$1"
exec git daemon --export-all --enable=receive-pack --base-path=/srv/git --reuseaddr \\
    --informative-errors /srv/git
"""


def setup_docker_messaging(request: MessagingRequest) -> MessagingSession:
    """Start what ``request`` needs on a new Docker network; return its session.

    If any step fails, what was started is removed before the error propagates.
    """
    external: RedisUrl | None = None
    if request.redis_url:
        external = RedisUrl.parse(request.redis_url).with_run(request.run_id)
        connect_redis(external).close()  # the user's server must answer, as for local
    api = connect()
    started = contextlib.ExitStack()
    started.callback(api.close)
    try:
        slug = _slug(request.run_id)
        suffix = uuid.uuid4().hex[:8]
        network = _create_network(api, f"cooperbench-{slug}-{suffix}", request)
        started.callback(_remove_network, api, network)
        if external is not None:
            url = external
        else:
            name = f"cooperbench-{slug}-redis-{suffix}"
            image = _redis_image(api)
            redis_id = _start_server(
                api, name, image, _REDIS_COMMAND, network, request, "redis", publish=REDIS_PORT
            )
            started.callback(remove_container, api, redis_id)
            _wait_until(api, redis_id, name, ["redis-cli", "ping"], "PONG")
            url = RedisUrl(name, REDIS_PORT, run_id=request.run_id)
            host_url = _host_url(api, redis_id, network, request.run_id)
        git_url = None
        if request.git:
            name = f"cooperbench-{slug}-git-{suffix}"
            repository = f"{request.run_id}.git"
            command = ["sh", "-c", _GIT_DAEMON_SCRIPT, "sh", repository]
            base = os.environ.get(BASE_IMAGE_VAR) or DEFAULT_BASE_IMAGE
            _require_image(api, base)
            git_id = _start_server(api, name, base, command, network, request, "git")
            started.callback(remove_container, api, git_id)
            git_url = f"git://{name}/{repository}"
            probe = ["git", "ls-remote", f"git://127.0.0.1/{repository}"]
            _wait_until(api, git_id, name, probe, None)
    except BaseException:
        started.close()
        raise
    return MessagingSession(
        redis_url=str(url),
        git_url=git_url,
        sandbox_options={"network": network},
        teardown=started.close,
        host_redis_url=None if external is not None else str(host_url),
    )


def _slug(run_id: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", run_id).strip("-.")
    return slug[:40] or "run"


def _labels(request: MessagingRequest, purpose: str) -> dict[str, str]:
    # The owner fields always describe this process, whatever the request says; the run
    # is the one the request's labels name (as on the run's sandboxes), else the run id.
    run = request.labels.get(cb_labels.RUN) or request.run_id
    return {**request.labels, **owner_labels(run=run, purpose=purpose)}


def _lifetime(request: MessagingRequest) -> int:
    seconds = request.lifetime if request.lifetime is not None else DEFAULT_MESSAGING_LIFETIME
    return max(1, int(seconds))


def _host_url(api: Any, container_id: str, network: str, run_id: str) -> RedisUrl:
    """Redis as this process reaches it: the published port, else the network address."""
    candidates = []
    with docker_errors("inspecting the redis container"):
        published = api.port(container_id, REDIS_PORT) or []
        settings = api.inspect_container(container_id).get("NetworkSettings") or {}
    for binding in published:
        candidates.append(RedisUrl("127.0.0.1", int(binding["HostPort"]), run_id=run_id))
    address = ((settings.get("Networks") or {}).get(network) or {}).get("IPAddress")
    if address:
        candidates.append(RedisUrl(str(address), REDIS_PORT, run_id=run_id))
    deadline = time.monotonic() + STARTUP_SECONDS
    problems: list[str] = []
    while True:
        problems.clear()
        for candidate in candidates:
            try:
                connect_redis(candidate, timeout=2.0).close()
            except MessagingError as exc:
                problems.append(str(exc))
            else:
                return candidate
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # Without it every conversation would silently come back empty.
    raise MessagingError(
        "the run's Redis container answers on its network but not from this machine "
        f"({'; '.join(problems) or 'no published port and no network address'}); "
        "run cooperbench on the Docker host, or pass --redis URL reachable from both"
    )


def _create_network(api: Any, name: str, request: MessagingRequest) -> str:
    with docker_errors(f"creating Docker network {name}"):
        api.create_network(
            name, driver="bridge", labels=_labels(request, "messaging"), check_duplicate=True
        )
    return name


def _remove_network(api: Any, name: str) -> None:
    """Remove the network, first detaching sandboxes still on it (an interrupted run)."""
    with docker_errors(f"removing Docker network {name}"):
        try:
            attached = api.inspect_network(name).get("Containers") or {}
            for container_id in attached:
                with contextlib.suppress(Exception):  # it may be going away by itself
                    api.disconnect_container_from_network(container_id, name, force=True)
            api.remove_network(name)
        except Exception as exc:
            if not is_not_found(exc):
                raise


def _require_image(api: Any, image: str) -> None:
    if local_image_id(api, image) is not None:
        return
    with image_lock(image):
        if local_image_id(api, image) is not None:
            return
        failure = try_pull(image)
        if local_image_id(api, image) is None:
            raise MessagingError(
                f"image {image} not found locally and could not be pulled ({failure}); "
                f"load or build it first, or set {BASE_IMAGE_VAR} to an image with git"
            )


def _redis_image(api: Any) -> str:
    """The Redis image to run: configured, else pulled, else built from the base image."""
    chosen = os.environ.get(REDIS_IMAGE_VAR)
    image = chosen or DEFAULT_REDIS_IMAGE
    if local_image_id(api, image) is not None:
        return image
    # Without an explicit choice, a fallback built earlier beats a pull attempt.
    if not chosen and local_image_id(api, FALLBACK_REDIS_IMAGE) is not None:
        return FALLBACK_REDIS_IMAGE
    with image_lock(image):
        if local_image_id(api, image) is not None:
            return image
        failure = try_pull(image)
        if local_image_id(api, image) is not None:
            return image
    logger.info(
        "Redis image %s unavailable (%s); building %s", image, failure, FALLBACK_REDIS_IMAGE
    )
    with image_lock(FALLBACK_REDIS_IMAGE):
        if local_image_id(api, FALLBACK_REDIS_IMAGE) is None:
            _build_fallback(api, image, failure)
    return FALLBACK_REDIS_IMAGE


def _build_fallback(api: Any, wanted: str, pull_failure: str | None) -> None:
    base = os.environ.get(BASE_IMAGE_VAR) or DEFAULT_BASE_IMAGE
    _require_image(api, base)
    action = f"building {FALLBACK_REDIS_IMAGE} from {base}"
    with docker_errors(action):
        events = api.build(
            fileobj=io.BytesIO(_FALLBACK_DOCKERFILE.encode()),
            tag=FALLBACK_REDIS_IMAGE,
            buildargs={"BASE_IMAGE": base},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            timeout=None,
        )
        error = next((str(event["error"]).strip() for event in events if "error" in event), None)
    if error is not None or local_image_id(api, FALLBACK_REDIS_IMAGE) is None:
        raise MessagingError(
            f"Redis image {wanted} could not be pulled ({pull_failure}) and {action} failed: "
            f"{error or 'no image was left'}; load a Redis image, set {REDIS_IMAGE_VAR}, "
            "or pass --redis URL"
        )


def _start_server(
    api: Any,
    name: str,
    image: str,
    command: list[str],
    network: str,
    request: MessagingRequest,
    purpose: str,
    publish: int | None = None,
) -> str:
    # `timeout` ends the server at the lifetime and the daemon then removes the
    # container, as sandbox containers end; busybox and coreutils both take this form.
    capped = ["timeout", "-s", "KILL", str(_lifetime(request)), *command]
    ports = {"ports": [publish]} if publish is not None else {}
    bindings = {publish: ("127.0.0.1",)} if publish is not None else None
    with docker_errors(f"starting the {purpose} container from image {image}"):
        host_config = api.create_host_config(
            init=True, auto_remove=True, network_mode=network, port_bindings=bindings
        )
        created = api.create_container(
            image,
            entrypoint=capped,
            labels=_labels(request, purpose),
            name=name,
            host_config=host_config,
            detach=True,
            **ports,
        )
    container_id = str(created["Id"])
    try:
        with docker_errors(f"starting the {purpose} container {name}"):
            api.start(container_id)
    except BaseException:
        remove_container(api, container_id)
        raise
    return container_id


def _wait_until(
    api: Any, container_id: str, name: str, probe: list[str], expect: str | None
) -> None:
    """Run ``probe`` in the container until it succeeds (and prints ``expect``)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    last = ""
    while True:
        state = _state(api, container_id)
        if not state.get("Running"):
            raise MessagingError(
                f"{name} exited at startup (status {state.get('ExitCode')}): "
                f"{_log_tail(api, container_id) or 'no output'}"
            )
        ok, last = _probe(api, container_id, probe, expect)
        if ok:
            return
        if time.monotonic() > deadline:
            raise MessagingError(
                f"{name} did not answer within {STARTUP_SECONDS:.0f}s: "
                f"{last or _log_tail(api, container_id) or 'no output'}"
            )
        time.sleep(0.1)


def _probe(api: Any, container_id: str, probe: list[str], expect: str | None) -> tuple[bool, str]:
    with docker_errors("checking a messaging server"):
        exec_id = api.exec_create(container_id, ["timeout", str(_PROBE_SECONDS), *probe])
        output = api.exec_start(exec_id, demux=False)
        code = api.exec_inspect(exec_id).get("ExitCode")
    text = (output or b"").decode("utf-8", errors="replace").strip()
    ok = code == 0 and (expect is None or expect in text)
    return ok, text.splitlines()[-1] if text else ""


def _state(api: Any, container_id: str) -> Mapping[str, Any]:
    with docker_errors("inspecting a messaging container"):
        try:
            state: Mapping[str, Any] = api.inspect_container(container_id).get("State") or {}
        except Exception as exc:
            if is_not_found(exc):  # it exited and the daemon removed it already
                return {}
            raise
    return state


def _log_tail(api: Any, container_id: str, lines: int = 5) -> str:
    try:
        raw = api.logs(container_id, tail=lines)
    except Exception as exc:  # noqa: BLE001 - only for an error message
        return explain(exc)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return " | ".join(text.strip().splitlines())
