"""The backend's self-check: does the SDK import, is a token set, does the server answer?"""

from __future__ import annotations

from cooperbench.plugin import BackendStatus

#: Seconds the server has to accept a connection during the self-check.
CHECK_TIMEOUT = 5.0


def check_modal() -> BackendStatus:
    """Say whether Modal can be used; the detail says what to do when it cannot.

    Cheap and bounded: it reads the SDK's configuration and opens one TCP connection
    to the server (at most :data:`CHECK_TIMEOUT` seconds); it creates nothing.
    """
    try:
        import modal
    except ImportError as exc:
        from cooperbench_modal.client import INSTALL_HINT

        return BackendStatus(
            False, f"the modal Python SDK cannot be imported ({exc}); {INSTALL_HINT}"
        )
    from cooperbench_modal.client import TOKEN_HINT, probe_server, server_url, token_configured

    try:
        configured = token_configured()
        url = server_url()
    except Exception as exc:  # noqa: BLE001 - a malformed ~/.modal.toml, for example
        return BackendStatus(False, f"cannot read the Modal configuration ({exc})")
    if not configured:
        return BackendStatus(False, f"no Modal token is configured; {TOKEN_HINT}")
    problem = probe_server(url, timeout=CHECK_TIMEOUT)
    if problem is not None:
        return BackendStatus(
            False,
            f"cannot reach the Modal server at {url} ({problem}); "
            "check the network, a proxy (HTTPS_PROXY) or MODAL_SERVER_URL",
        )
    return BackendStatus(True, f"modal {modal.__version__}, server {url}")
