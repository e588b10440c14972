"""Core's default ``evaluate_patch``: the pair pipeline, concurrently, one sandbox per pair.

Interrupting (the caller sets ``context.cancel``) stops new pairs from starting and
terminates every live sandbox; pairs that were running are not reported, so no result
of an interrupted pair is ever saved. A pair's sandbox is removed in the background
while the next pair starts, and its result is saved once the sandbox is gone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

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


def _startup_timings(sandbox: Sandbox, elapsed: float) -> dict[str, float]:
    """How creating ``sandbox`` took ``elapsed`` seconds: the backend's phases, then the rest."""
    phases = dict(getattr(sandbox, "startup_timings", None) or {})
    phases["sandbox_start"] = max(0.0, elapsed - sum(phases.values()))
    return phases


class BackgroundTeardown:
    """Terminates finished sandboxes on their own threads, so the next pair starts sooner.

    A pair's verdict is final once its tests have run; removing its sandbox takes a
    while (Docker: tens of milliseconds) and need not hold up the next pair. At most
    ``limit`` teardowns wait at once: beyond that, :meth:`submit` waits for a slot.
    """

    def __init__(self, limit: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cooperbench-stop")
        self._slots = threading.Semaphore(limit)
        self._lock = threading.Lock()
        self._futures: list[Future[None]] = []

    def submit(self, stop: Callable[[], None]) -> None:
        """Run ``stop`` in the background once a slot is free."""
        self._slots.acquire()

        def run() -> None:
            try:
                stop()
            finally:
                self._slots.release()

        future = self._pool.submit(run)
        with self._lock:
            self._futures.append(future)

    def wait(self, cancel: threading.Event) -> None:
        """Wait for every teardown; re-raise the first failure (e.g. saving a result)."""
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            _wait_responsively(future, cancel)
            future.result()

    def shutdown(self) -> None:
        """Finish the teardowns already started and stop the threads."""
        self._pool.shutdown(wait=True)


def _wait_responsively(future: Future[None], cancel: threading.Event) -> None:
    # Waiting in short slices keeps the main thread responsive to Ctrl-C.
    while not future.done():
        if cancel.wait(0.2):
            raise KeyboardInterrupt


def evaluate_concurrently(
    backend: str, requests: Sequence[EvalRequest], context: EvalContext
) -> list[EvalResult]:
    """Evaluate ``requests`` with up to ``context.concurrency`` sandboxes at once."""
    live = LiveSandboxes()
    results: dict[int, EvalResult] = {}
    workers = max(1, min(context.concurrency, len(requests)))
    teardown = BackgroundTeardown(workers)

    def save(index: int, result: EvalResult) -> None:
        if context.cancel.is_set():
            return  # interrupted mid-pair: its result cannot be trusted
        results[index] = result
        context.report(result)

    def work(index: int, request: EvalRequest) -> None:
        if context.cancel.is_set():
            return
        started = time.monotonic()
        try:
            sandbox = context.plugins.create_sandbox(backend, sandbox_request(request, context))
        except Exception as exc:  # noqa: BLE001 - recorded as an infrastructure error
            save(index, infrastructure_error(request, f"sandbox did not start: {exc}", started))
            return
        live.add(sandbox)
        startup = _startup_timings(sandbox, time.monotonic() - started)
        try:
            result = evaluate_pair(sandbox, request)
        except BaseException:
            live.discard(sandbox)
            sandbox.terminate()
            raise

        def stop() -> None:
            stopping = time.monotonic()
            try:
                sandbox.terminate()
            finally:
                live.discard(sandbox)
            timings = {**startup, **result.timings, "teardown": time.monotonic() - stopping}
            save(index, attrs.evolve(result, timings=timings))

        teardown.submit(stop)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cooperbench-eval")
    futures = [pool.submit(work, i, r) for i, r in enumerate(requests)]
    try:
        for future in futures:
            _wait_responsively(future, context.cancel)
            future.result()
        teardown.wait(context.cancel)
    except BaseException:
        context.cancel.set()
        for future in futures:
            future.cancel()
        live.terminate_all()
        pool.shutdown(wait=True, cancel_futures=True)
        teardown.shutdown()
        live.terminate_all()
        raise
    pool.shutdown(wait=True)
    teardown.shutdown()
    return [results[i] for i in sorted(results)]
