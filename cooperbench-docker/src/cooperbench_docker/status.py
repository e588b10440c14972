"""The backend's self-check: is the SDK installed and does the daemon answer?"""

from __future__ import annotations

from cooperbench.plugin import BackendStatus, CooperbenchError

#: Seconds the daemon has to answer the self-check.
CHECK_TIMEOUT = 5


def check_docker() -> BackendStatus:
    """Ping the daemon; the detail says what to do when it cannot be used."""
    try:
        import docker  # noqa: F401 - only checking that the SDK imports
    except ImportError as exc:
        return BackendStatus(
            False,
            f"the docker Python SDK cannot be imported ({exc}); "
            "install it with: pip install 'cooperbench[docker]'",
        )
    from cooperbench_docker.client import connect, docker_errors, docker_host

    host = docker_host()
    try:
        api = connect(timeout=CHECK_TIMEOUT)
        try:
            with docker_errors("pinging the Docker daemon", host):
                api.ping()
                version = api.version().get("Version", "unknown version")
        finally:
            api.close()
    except CooperbenchError as exc:
        return BackendStatus(False, str(exc))
    return BackendStatus(True, f"Docker Engine {version} at {host}")
