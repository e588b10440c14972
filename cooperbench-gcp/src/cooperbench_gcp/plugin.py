"""Hook implementations of the ``gcp`` backend (the module the entry point names).

Discovery imports this module for every command, so it imports no Google SDK: the
clients are imported inside the hooks, through the modules they call.
"""

from __future__ import annotations

from collections.abc import Sequence

from cooperbench.plugin import (
    BackendOption,
    BackendStatus,
    EvalContext,
    EvalRequest,
    EvalResult,
    hookimpl,
)
from cooperbench_gcp.options import OPTIONS, batch_settings


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
def cleanup_resources(dry_run: bool) -> list[str]:
    """Delete the jobs and bucket files of evaluations whose process is gone."""
    from cooperbench_gcp.cleanup import cleanup_leftovers

    return cleanup_leftovers(dry_run=dry_run)
