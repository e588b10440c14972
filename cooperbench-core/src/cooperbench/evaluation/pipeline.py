"""Score one pair inside one sandbox.

Steps, as the published scorer defines them (their one definition is
:mod:`cooperbench.evaluation.steps`): drop the agents' test-file edits; put each
agent's patch on its own branch from the base commit (``git apply``, then 3-way);
merge (plain, then the ``union`` driver); then, for each feature, run the task's
runner with that feature's hidden tests on the merged code. Patches travel as files,
so their size does not matter.
"""

from __future__ import annotations

import time

from cooperbench.errors import InfrastructureError
from cooperbench.evaluation.steps import EvalStep, now_iso, pair_steps, score
from cooperbench.evaluation.types import (
    INFRASTRUCTURE_ERROR,
    EvalRequest,
    EvalResult,
    FeatureResult,
    MergeResult,
)
from cooperbench.sandbox import ExecResult, Sandbox

__all__ = [
    "error_result",
    "evaluate_pair",
    "infrastructure_error",
    "now_iso",
]


def evaluate_pair(sandbox: Sandbox, request: EvalRequest) -> EvalResult:
    """Evaluate ``request`` in ``sandbox`` (already created from the task image).

    The result's ``timings`` has ``patch_setup`` (staging the patches, branching and
    merging) and ``tests`` (running every feature's tests and collecting the reports).
    """
    started = time.monotonic()
    timings: dict[str, float] = {}
    try:
        steps = pair_steps(request)
        # One call, so backends that pay per transfer (Docker's archive API) pay once.
        sandbox.write_files(dict(steps.files))

        def run(step: EvalStep) -> ExecResult:
            return sandbox.exec(*step.argv, timeout=step.timeout, cwd=step.cwd)

        return score(steps, run, sandbox.read_file, timings, started=started)
    except InfrastructureError as exc:
        return _error(request, str(exc), exc.kind, started, timings=timings)
    except Exception as exc:  # noqa: BLE001 - any backend failure is infrastructure
        message = f"{type(exc).__name__}: {exc}"
        return _error(request, message, INFRASTRUCTURE_ERROR, started, timings=timings)


def _error(
    request: EvalRequest,
    message: str,
    kind: str,
    started: float,
    apply_status: dict[str, str] | None = None,
    merge: MergeResult | None = None,
    features: tuple[FeatureResult, ...] = (),
    timings: dict[str, float] | None = None,
) -> EvalResult:
    return EvalResult(
        pair=request.pair,
        apply_status=apply_status or {},
        merge=merge,
        features=features,
        error=message,
        error_kind=kind,
        evaluated_at=now_iso(),
        duration_seconds=time.monotonic() - started,
        timings=timings or {},
    )


def infrastructure_error(request: EvalRequest, message: str, started: float) -> EvalResult:
    """An error result for a pair whose sandbox could not even be created."""
    return _error(request, message, INFRASTRUCTURE_ERROR, started)


def error_result(
    request: EvalRequest, message: str, kind: str = INFRASTRUCTURE_ERROR
) -> EvalResult:
    """An error result for ``request`` (``kind`` is the error kind; retried by the next eval)."""
    return _error(request, message, kind, time.monotonic())
