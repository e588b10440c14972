"""Connecting to the Docker daemon, and turning SDK failures into cooperbench errors.

Every call into the ``docker`` SDK runs inside :func:`docker_errors`, so a user never
sees a raw SDK or ``requests`` exception: a daemon that is down or refuses the user
becomes :class:`~cooperbench.errors.BackendUnavailableError`, anything else one line of
:class:`~cooperbench.errors.SandboxError`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cooperbench.plugin import (
    BackendUnavailableError,
    CooperbenchError,
    SandboxError,
    SandboxTimeoutError,
)

#: Where the SDK looks when neither ``DOCKER_HOST`` nor a Docker CLI context says more.
DEFAULT_HOST = "unix:///var/run/docker.sock"
#: HTTP timeout of ordinary API calls, in seconds (long-running calls set their own).
API_TIMEOUT = 60
#: Connections kept per client; one sandbox may run several commands at once.
_POOL_SIZE = 32

# The API version each daemon speaks, so only the first client per host asks for it.
_api_versions: dict[str, str] = {}
_api_versions_lock = threading.Lock()


def connection_params() -> dict[str, Any]:
    """The SDK's connection settings: ``DOCKER_HOST``/TLS variables, else the CLI context."""
    from docker.utils import kwargs_from_env

    params: dict[str, Any] = dict(kwargs_from_env())
    if "base_url" not in params:
        # The Docker CLI's current context (Docker Desktop, a remote engine); older
        # SDKs lack this helper, and a broken CLI config must not stop us.
        try:
            from docker.context import ContextAPI

            from_context = getattr(ContextAPI, "kwargs_from_context", None)
            if from_context is not None:
                for key, value in from_context().items():
                    params.setdefault(key, value)
        except Exception:  # noqa: BLE001 - fall back to the default socket
            pass
    return params


def docker_host(params: dict[str, Any] | None = None) -> str:
    """The daemon address as a user would write it in ``DOCKER_HOST``."""
    chosen = (params if params is not None else connection_params()).get("base_url")
    return str(chosen) if chosen else DEFAULT_HOST


def connect(timeout: float = API_TIMEOUT) -> Any:
    """A low-level ``docker.APIClient`` talking to the configured daemon.

    Raises :class:`~cooperbench.errors.BackendUnavailableError` when the daemon cannot
    be reached or refuses this user.
    """
    import docker

    params = connection_params()
    host = docker_host(params)
    with docker_errors("connecting to the Docker daemon", host):
        with _api_versions_lock:
            known = _api_versions.get(host)
        client = docker.APIClient(
            version=known or "auto", timeout=timeout, max_pool_size=_POOL_SIZE, **params
        )
        if known is None:
            with _api_versions_lock:
                _api_versions[host] = str(client.api_version)
        return client


def unreachable_error(host: str, exc: BaseException) -> BackendUnavailableError:
    """The error for a daemon that cannot be reached, saying what to do about it."""
    if _caused_by_permission(exc):
        return BackendUnavailableError(
            f"permission denied on the Docker socket {host}: add your user to the docker "
            "group ('sudo usermod -aG docker $USER', then log in again) or set DOCKER_HOST "
            "to an engine you may use"
        )
    return BackendUnavailableError(
        f"cannot reach the Docker daemon at {host}: is it running? Start it "
        "('sudo systemctl start docker' on Linux, Docker Desktop on macOS/Windows) "
        "or set DOCKER_HOST to a running engine"
    )


def explain(exc: BaseException) -> str:
    """One line describing an SDK error (the daemon's own explanation when it gave one)."""
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    first = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def is_not_found(exc: BaseException) -> bool:
    """True when ``exc`` is the daemon saying the container, image or file does not exist."""
    import docker.errors

    return isinstance(exc, docker.errors.NotFound)


def is_conflict(exc: BaseException) -> bool:
    """True when ``exc`` is an HTTP 409 (container not running, removal in progress)."""
    import docker.errors

    return isinstance(exc, docker.errors.APIError) and exc.status_code == 409


@contextmanager
def docker_errors(action: str, host: str | None = None) -> Iterator[None]:
    """Run SDK calls, re-raising their failures as cooperbench errors about ``action``."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except CooperbenchError:
        raise
    except docker.errors.APIError as exc:
        raise SandboxError(f"{action} failed: {explain(exc)}") from exc
    except requests.exceptions.Timeout as exc:
        where = host or docker_host()
        raise SandboxTimeoutError(
            f"{action} failed: the Docker daemon at {where} did not answer in time"
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise unreachable_error(host or docker_host(), exc) from exc
    except docker.errors.DockerException as exc:
        if _caused_by_connection(exc):
            raise unreachable_error(host or docker_host(), exc) from exc
        raise BackendUnavailableError(
            f"{action} failed: {explain(exc)} (check DOCKER_HOST and the Docker TLS settings)"
        ) from exc


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def _caused_by_permission(exc: BaseException) -> bool:
    return any(
        isinstance(link, PermissionError) or "Permission denied" in str(link)
        for link in _chain(exc)
    )


def _caused_by_connection(exc: BaseException) -> bool:
    import requests.exceptions

    markers = ("Connection aborted", "Connection refused", "No such file or directory")
    return any(
        isinstance(link, (ConnectionError, FileNotFoundError, requests.exceptions.ConnectionError))
        or any(marker in str(link) for marker in markers)
        for link in _chain(exc)
    )
