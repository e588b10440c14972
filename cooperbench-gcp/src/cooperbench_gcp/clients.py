"""The Cloud Batch and Cloud Storage clients, on Google's endpoints or on local servers.

Imported only inside hooks: it imports the Google SDKs. Every call made through these
clients takes :data:`CALL_TIMEOUT` and a short retry, so an endpoint that does not
answer is one clear error within seconds, not the client's minute of retries.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import batch_v1, storage

from cooperbench.plugin import BackendUnavailableError
from cooperbench_gcp.config import GcpConfig

#: Seconds one API call may take.
CALL_TIMEOUT = 30.0
#: Seconds a local endpoint has to accept a connection during the self-check.
CONNECT_TIMEOUT = 3.0
#: Retries of transient failures: a few quick tries, never minutes.
RETRY = api_retry.Retry(
    initial=0.2,
    maximum=2.0,
    multiplier=2.0,
    timeout=10.0,
    predicate=api_retry.if_exception_type(
        api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded
    ),
)
#: What the API raises when it cannot be reached or refuses the caller.
API_ERRORS = (api_exceptions.GoogleAPIError,)


def batch_client(config: GcpConfig) -> batch_v1.BatchServiceClient:
    """A Batch client: plain-text gRPC to the local endpoint, else Google's with ADC."""
    if config.batch_endpoint:
        import grpc
        from google.cloud.batch_v1.services.batch_service.transports import (
            BatchServiceGrpcTransport,
        )

        channel = grpc.insecure_channel(config.batch_endpoint)
        return batch_v1.BatchServiceClient(transport=BatchServiceGrpcTransport(channel=channel))
    return batch_v1.BatchServiceClient()


def storage_client(config: GcpConfig) -> storage.Client:
    """A storage client (``STORAGE_EMULATOR_HOST`` makes it anonymous and local)."""
    return storage.Client(project=config.project or None)


def endpoint_answers(endpoint: str) -> str | None:
    """``None`` when ``endpoint`` (``host:port`` or a URL) accepts a TCP connection, else why not."""
    parsed = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    host, port = parsed.hostname, parsed.port
    if not host or not port:
        return f"{endpoint!r} is not host:port"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as exc:
        return f"{endpoint} does not answer ({exc.strerror or exc})"


def unavailable(action: str, exc: BaseException, config: GcpConfig) -> BackendUnavailableError:
    """A one-line error for a failed API call, saying what to check."""
    where = f"Batch at {config.batch_endpoint}" if config.batch_endpoint else "Google Cloud"
    detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    hint = (
        "check that the local servers run"
        if config.local
        else "check the project, region and credentials (gcloud auth application-default login)"
    )
    return BackendUnavailableError(f"{action} failed on {where}: {detail}; {hint}")


def call(method: Any, /, **request: Any) -> Any:
    """Call a Batch client ``method`` with the short timeout and retry."""
    return method(request=request, timeout=CALL_TIMEOUT, retry=RETRY)
