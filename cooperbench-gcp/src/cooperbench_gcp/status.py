"""The backend's self-check: SDKs installed, a project, and credentials or local servers."""

from __future__ import annotations

from cooperbench.plugin import BackendStatus, CooperbenchError
from cooperbench_gcp.config import BATCH_ENDPOINT_ENV, NO_PROJECT, GcpConfig, resolve_config

NO_CREDENTIALS = (
    "no Google Cloud credentials: run 'gcloud auth application-default login', "
    "or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"
)


def check_gcp() -> BackendStatus:
    """Usable with a project and application default credentials (or two local servers).

    Creates nothing and calls no API; local endpoints must accept a connection.
    """
    try:
        import google.cloud.batch_v1
        import google.cloud.storage  # noqa: F401
    except ImportError as exc:
        return BackendStatus(
            False,
            f"the Google Cloud client libraries cannot be imported ({exc}); "
            "install them with: pip install 'cooperbench[gcp]'",
        )
    try:
        config = resolve_config()
    except CooperbenchError as exc:
        return BackendStatus(False, str(exc))
    if not config.project:
        return BackendStatus(False, NO_PROJECT)
    if config.local:
        return _check_local(config)
    if config.batch_endpoint:
        # One local server and one real service: the real one needs credentials too.
        problem = _credentials_problem()
        if problem is not None:
            return BackendStatus(False, problem)
        return _check_local(config)
    problem = _credentials_problem()
    if problem is not None:
        return BackendStatus(False, problem)
    return BackendStatus(
        True,
        f"project {config.project}, region {config.region}, bucket gs://{config.bucket_name}",
    )


def _credentials_problem() -> str | None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError:
        return NO_CREDENTIALS
    return None


def _check_local(config: GcpConfig) -> BackendStatus:
    from cooperbench_gcp.clients import endpoint_answers

    endpoints = [(config.batch_endpoint, BATCH_ENDPOINT_ENV)]
    if config.storage_endpoint:
        endpoints.append((config.storage_endpoint, "STORAGE_EMULATOR_HOST"))
    for endpoint, variable in endpoints:
        problem = endpoint_answers(endpoint)
        if problem is not None:
            return BackendStatus(False, f"{variable}: {problem}; start it or unset {variable}")
    where = f"Batch at {config.batch_endpoint}"
    if config.storage_endpoint:
        where += f", storage at {config.storage_endpoint}"
    return BackendStatus(
        True, f"project {config.project} on local servers ({where}; for local testing only)"
    )
