"""Where a verdict came from, recorded in every eval.json.

A score is only comparable with another when both came from the same backend, image,
test timeout and harness version; eval.json says which, so a later ``eval --backend X``
can tell a verdict of another backend and score it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from cooperbench.evaluation.types import EvalRequest, EvalResult


def cooperbench_version() -> str:
    """The installed ``cooperbench-core`` version."""
    from cooperbench import __version__

    return __version__


def stamper(backend: str, requests: Sequence[EvalRequest]) -> Callable[[EvalResult], EvalResult]:
    """A function that adds the provenance of ``requests`` on ``backend`` to a result.

    What the backend recorded itself (``image_id``) is kept.
    """
    by_folder = {request.pair.path: request for request in requests}
    version = cooperbench_version()

    def stamp(result: EvalResult) -> EvalResult:
        request = by_folder.get(result.pair.path)
        provenance: dict[str, Any] = {"backend": backend, "cooperbench_version": version}
        if request is not None:
            provenance.update(image=request.image, test_timeout=request.timeout)
        provenance.setdefault("image_id", None)
        return attrs.evolve(result, provenance={**provenance, **result.provenance})

    return stamp


def stored_backend(document: dict[str, Any] | None) -> str | None:
    """The backend an eval.json document was scored on (``None`` when it does not say)."""
    if not document:
        return None
    backend = document.get("backend")
    return backend if isinstance(backend, str) else None
