"""Reaching Modal: the SDK's settings, a bounded reachability check, the app, and turning
SDK failures into cooperbench errors.

The SDK keeps retrying a connection to a server that does not answer for about a
minute, and its router for minutes more. Before the first call of a process,
:func:`ensure_reachable` opens a plain TCP connection to the configured server (or the
proxy the SDK would use) with a short timeout, so an unreachable server is one clear
line within seconds. Every SDK call runs inside :func:`modal_errors`, so a user never
sees a raw SDK or gRPC exception.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cooperbench.plugin import (
    BackendUnavailableError,
    CooperbenchError,
    SandboxError,
    SandboxFileNotFoundError,
    SandboxIsADirectoryError,
    SandboxPermissionError,
    UsageError,
)
from cooperbench_modal.options import DEFAULT_ENVIRONMENT

#: Seconds the server (or the proxy in front of it) has to accept a TCP connection.
CONNECT_TIMEOUT = 10.0
#: What a user runs to store a token (``~/.modal.toml``).
TOKEN_HINT = "run 'modal token new' (or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET)"
INSTALL_HINT = "install it with: pip install 'cooperbench[modal]'"

_reachable: set[str] = set()
_apps: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def server_url() -> str:
    """The control-plane URL(s) the SDK dials (``MODAL_SERVER_URL`` or the profile's)."""
    from modal.config import config

    return str(config.get("server_url"))


def token_configured() -> bool:
    """True when the SDK has credentials: a token id and secret, or an OAuth login."""
    from modal.config import config

    if config.get("token_id") and config.get("token_secret"):
        return True
    return bool(config.get("oauth_refresh_token"))


def _endpoints(url: str) -> list[tuple[str, int]]:
    """``(host, port)`` of each comma-separated URL the SDK would try."""
    found = []
    for part in url.split(","):
        parsed = urllib.parse.urlparse(part.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            continue
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        found.append(_proxy_for(parsed.hostname, parsed.scheme) or (parsed.hostname, port))
    return found


def _proxy_for(host: str, scheme: str) -> tuple[str, int] | None:
    """The proxy the SDK dials instead of ``host``, as its proxy support picks it."""
    from modal.config import config

    if config.get("disable_api_proxy") or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy:
        return None
    parsed = urllib.parse.urlparse(proxy)
    if not parsed.hostname:
        return None
    return parsed.hostname, parsed.port or 1080


def probe_server(url: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Try a TCP connection to the server of ``url``; ``None`` when one answers, else why not."""
    if url.startswith("unix://"):
        path = url[len("unix://") :]
        return None if os.path.exists(path) else f"no socket at {path}"
    endpoints = _endpoints(url)
    if not endpoints:
        return f"cannot read the server URL {url!r}"
    problems = []
    for host, port in endpoints:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            problems.append(f"{host}:{port}: {exc.strerror or exc}")
    return "; ".join(problems)


def ensure_reachable() -> None:
    """Raise :class:`BackendUnavailableError` unless a token is set and the server answers.

    Checked once per process and server, within :data:`CONNECT_TIMEOUT` seconds.
    """
    if not token_configured():
        raise BackendUnavailableError(f"no Modal token is configured; {TOKEN_HINT}")
    url = server_url()
    with _lock:
        if url in _reachable:
            return
    problem = probe_server(url)
    if problem is not None:
        raise BackendUnavailableError(
            f"cannot reach the Modal server at {url} within {CONNECT_TIMEOUT:g}s ({problem}); "
            "check the network, a proxy (HTTPS_PROXY) or MODAL_SERVER_URL"
        )
    with _lock:
        _reachable.add(url)


def environment_hint(name: str) -> str:
    """What a user does about the environment ``name`` that does not exist."""
    return (
        f"Modal environment {name!r} does not exist; create it with "
        f"'modal environment create {name}', or leave out the environment option "
        f"to use {DEFAULT_ENVIRONMENT!r}"
    )


def missing_environment(name: str) -> str | None:
    """:func:`environment_hint` when ``name`` is not the default environment and Modal
    has no such environment; ``None`` when it exists, is the default (made on first
    use), or Modal cannot be asked (no token, unreachable: reported elsewhere)."""
    if name == DEFAULT_ENVIRONMENT:
        return None
    try:
        import modal
        from modal import exception as modal_exc
    except ImportError:
        return None  # the backend's own check says how to install the SDK
    try:
        ensure_reachable()
        with modal_errors(f"looking up Modal environment {name!r}"):
            modal.Environment.from_name(name).hydrate()
    except CooperbenchError as exc:
        if isinstance(exc.__cause__, modal_exc.NotFoundError):
            return environment_hint(name)
        return None
    return None


def lookup_app(name: str, environment: str) -> Any:
    """The Modal app ``name`` in ``environment`` (made when missing), once per process.

    The default environment is made when missing too (a new workspace has only its
    own default); another environment that does not exist is a ``UsageError``.
    """
    import modal
    from modal import exception as modal_exc

    key = (name, environment)
    with _lock:
        cached = _apps.get(key)
    if cached is not None:
        return cached
    if environment == DEFAULT_ENVIRONMENT:
        with modal_errors(f"making Modal environment {environment!r}"):
            modal.Environment.from_name(environment, create_if_missing=True).hydrate()
    try:
        with modal_errors(f"looking up Modal app {name!r} in environment {environment!r}"):
            app = modal.App.lookup(name, create_if_missing=True, environment_name=environment)
    except CooperbenchError as exc:
        if isinstance(exc.__cause__, modal_exc.NotFoundError):
            raise UsageError(environment_hint(environment)) from exc
        raise
    with _lock:
        return _apps.setdefault(key, app)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (the SDK's can be long)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """True for SDK failures worth retrying: the service was busy, slow or restarting."""
    from modal import exception as modal_exc

    transient = (
        modal_exc.ConnectionError,
        modal_exc.ServiceError,
        modal_exc.InternalError,
        modal_exc.ResourceExhaustedError,
        modal_exc.TimeoutError,
        modal_exc.InternalFailure,
        TimeoutError,
        ConnectionError,
    )
    # The sandbox timeout errors are about a sandbox's own lifetime, not the service.
    lifetime = (modal_exc.SandboxTimeoutError, modal_exc.ExecTimeoutError)
    return isinstance(exc, transient) and not isinstance(exc, lifetime)


def translate(exc: BaseException, what: str) -> CooperbenchError:
    """The cooperbench error a user sees for an SDK failure while doing ``what``."""
    from modal import exception as modal_exc

    detail = first_line(exc)
    if isinstance(exc, CooperbenchError):
        return exc
    if isinstance(exc, modal_exc.AuthError):
        return BackendUnavailableError(f"Modal refused the credentials ({detail}); {TOKEN_HINT}")
    if isinstance(exc, modal_exc.PermissionDeniedError):
        return BackendUnavailableError(
            f"{what}: Modal denied permission ({detail}); check the token's workspace"
        )
    if isinstance(exc, modal_exc.ConnectionError):
        return BackendUnavailableError(
            f"{what}: cannot reach the Modal server at {server_url()} ({detail})"
        )
    if isinstance(exc, modal_exc.SandboxFilesystemNotFoundError):
        return SandboxFileNotFoundError(f"{what}: {detail}")
    if isinstance(exc, modal_exc.SandboxFilesystemNotADirectoryError):
        return SandboxFileNotFoundError(f"{what}: {detail}")
    if isinstance(exc, modal_exc.SandboxFilesystemIsADirectoryError):
        return SandboxIsADirectoryError(f"{what}: {detail}")
    if isinstance(exc, modal_exc.SandboxFilesystemPermissionError):
        return SandboxPermissionError(f"{what}: {detail}")
    return SandboxError(f"{what}: {type(exc).__name__}: {detail}")


@contextmanager
def modal_errors(what: str) -> Iterator[None]:
    """Run SDK calls, raising any failure as a cooperbench error about ``what``."""
    try:
        yield
    except CooperbenchError:
        raise
    except Exception as exc:
        raise translate(exc, what) from exc
