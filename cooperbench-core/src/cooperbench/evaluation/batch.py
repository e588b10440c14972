"""Core's default ``evaluate_patch``: the pair pipeline, concurrently, one sandbox per pair.

Interrupting (the caller sets ``context.cancel``) stops new pairs from starting and
terminates every live sandbox; pairs that were running are not reported, so no result
of an interrupted pair is ever saved.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from cooperbench.evaluation.pipeline import evaluate_pair, infrastructure_error
from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
from cooperbench.sandbox import Sandbox, SandboxRequest

# Room beyond the test runs for staging, merging and teardown in the sandbox lifetime.
_LIFETIME_MARGIN = 300


class LiveSandboxes:
    """The sandboxes a batch has open, so an interrupt can terminate them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[Sandbox] = set()

    def add(self, sandbox: Sandbox) -> None:
        """Track ``sandbox``."""
        with self._lock:
            self._open.add(sandbox)

    def discard(self, sandbox: Sandbox) -> None:
        """Stop tracking ``sandbox``."""
        with self._lock:
            self._open.discard(sandbox)

    def terminate_all(self) -> None:
        """Terminate every tracked sandbox (each terminate is idempotent)."""
        with self._lock:
            sandboxes = list(self._open)
        for sandbox in sandboxes:
            # Keep tearing down the others whatever one of them raises.
            with contextlib.suppress(Exception):
                sandbox.terminate()


def sandbox_request(request: EvalRequest, context: EvalContext) -> SandboxRequest:
    """The sandbox one pair is evaluated in: its task image, no network, labelled."""
    lifetime = request.timeout * len(request.pair.features) + _LIFETIME_MARGIN
    return SandboxRequest(
        image=request.image,
        timeout=lifetime,
        workdir="/workspace",
        task_dir=request.task.path,
        network=False,
        labels={**context.labels, "cooperbench.pair": request.key},
        options=context.sandbox_options,
    )


def evaluate_concurrently(
    backend: str, requests: Sequence[EvalRequest], context: EvalContext
) -> list[EvalResult]:
    """Evaluate ``requests`` with up to ``context.concurrency`` sandboxes at once."""
    live = LiveSandboxes()
    results: dict[int, EvalResult] = {}

    def work(index: int, request: EvalRequest) -> None:
        if context.cancel.is_set():
            return
        started = time.monotonic()
        try:
            sandbox = context.plugins.create_sandbox(backend, sandbox_request(request, context))
        except Exception as exc:  # noqa: BLE001 - recorded as an infrastructure error
            result = infrastructure_error(request, f"sandbox did not start: {exc}", started)
        else:
            live.add(sandbox)
            try:
                result = evaluate_pair(sandbox, request)
            finally:
                live.discard(sandbox)
                sandbox.terminate()
        if context.cancel.is_set():
            return  # interrupted mid-pair: its result cannot be trusted
        results[index] = result
        context.report(result)

    workers = max(1, min(context.concurrency, len(requests)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cooperbench-eval")
    futures = [pool.submit(work, i, r) for i, r in enumerate(requests)]
    try:
        for future in futures:
            # Waiting in short slices keeps the main thread responsive to Ctrl-C.
            while not future.done():
                if context.cancel.wait(0.2):
                    raise KeyboardInterrupt
            future.result()
    except BaseException:
        context.cancel.set()
        for future in futures:
            future.cancel()
        live.terminate_all()
        pool.shutdown(wait=True, cancel_futures=True)
        live.terminate_all()
        raise
    pool.shutdown(wait=True)
    return [results[i] for i in sorted(results)]
