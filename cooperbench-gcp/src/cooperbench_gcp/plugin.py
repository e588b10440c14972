"""Hook implementations of the ``gcp`` backend (the module the entry point names).

Discovery imports this module for every command, so it imports no Google SDK: the
clients are imported inside the hooks, through the modules they call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cooperbench.plugin import (
    BackendOption,
    BackendStatus,
    EvalContext,
    EvalRequest,
    EvalResult,
    MessagingRequest,
    MessagingSession,
    RedisUrl,
    Sandbox,
    SandboxRequest,
    UsageError,
    hookimpl,
)
from cooperbench_gcp.options import OPTIONS, batch_settings


@hookimpl
def create_sandbox(request: SandboxRequest) -> Sandbox:
    """A one-task Batch job of ``request.image``, driven through the bucket."""
    from cooperbench_gcp.sandbox import GcpSandbox

    return GcpSandbox.create(request)


@hookimpl
def setup_messaging(request: MessagingRequest) -> MessagingSession:
    """The user's own Redis (``--redis``), reachable from the Batch VMs and from here."""
    if request.git:
        raise UsageError(
            "--git is not available on gcp: the Batch VMs have no shared git remote; "
            "run without --git"
        )
    if request.redis_url is None:
        raise UsageError(
            "messaging on gcp needs --redis URL, a Redis server reachable from the Batch "
            "VMs and from this machine (or run with --no-messaging)"
        )
    return MessagingSession(
        redis_url=str(RedisUrl.parse(request.redis_url).with_run(request.run_id))
    )


@hookimpl
def check_backend() -> BackendStatus:
    """Usable with a project and credentials (or with both endpoints on local servers)."""
    from cooperbench_gcp.status import check_gcp

    return check_gcp()


@hookimpl
def backend_options() -> list[BackendOption]:
    """Project, region, bucket, machine and network settings; polling and retries."""
    return list(OPTIONS)


@hookimpl
def evaluate_patch(requests: Sequence[EvalRequest], context: EvalContext) -> list[EvalResult]:
    """Score every pair on Cloud Batch: one job per task image, one task per pair."""
    from cooperbench_gcp.config import resolve_config
    from cooperbench_gcp.evaluate import BatchEvaluation

    if not requests:
        return []
    config = resolve_config(context.sandbox_options)
    config.require_project()
    poll_interval, max_retries = batch_settings(context.sandbox_options)
    evaluation = BatchEvaluation(
        requests, context, config, poll_interval=poll_interval, max_retries=max_retries
    )
    return evaluation.run()


@hookimpl
def configure_backend(settings: Mapping[str, str], interactive: bool) -> str:
    """``cooperbench config gcp``: credentials, project, region, zone, bucket; saved."""
    from cooperbench_gcp.wizard import run_wizard

    return run_wizard(settings, interactive)


@hookimpl
def cleanup_resources(dry_run: bool) -> list[str]:
    """Delete the jobs and bucket files of evaluations whose process is gone."""
    from cooperbench_gcp.cleanup import cleanup_leftovers

    return cleanup_leftovers(dry_run=dry_run)
