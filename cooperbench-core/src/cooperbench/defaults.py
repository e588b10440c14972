"""Core's generic hook implementations, used by every backend that does not override them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cooperbench.markers import hookimpl

if TYPE_CHECKING:
    from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult


@hookimpl(trylast=True)
def evaluate_patch(
    backend: str, requests: Sequence[EvalRequest], context: EvalContext
) -> Sequence[EvalResult]:
    """Run the generic pipeline concurrently, one sandbox per pair, on ``backend``."""
    from cooperbench.evaluation.batch import evaluate_concurrently

    return evaluate_concurrently(backend, requests, context)
