"""Core's default ``evaluate_patch``: the pair pipeline, concurrently, one sandbox per pair.

Each of the ``concurrency`` workers evaluates one pair at a time, and overlaps the
slow parts around it: the sandbox of its next pair starts while the current pair is
evaluated, and a finished pair's sandbox is removed in the background (the result is
saved once it is gone). So a worker holds at most three sandboxes: one starting, one
evaluating, one stopping. A backend that bills or limits sandboxes alive at once turns
the overlap off (``EvalContext.start_ahead``, from its ``start_ahead`` option): each
worker then holds one sandbox at a time, removed before the next one starts.

Interrupting (the caller sets ``context.cancel``) stops new pairs from starting and
terminates every live sandbox; pairs that were running are not reported, so no result
of an interrupted pair is ever saved.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import attrs

from cooperbench.backend_options import BackendOption, option_value
from cooperbench.evaluation.pipeline import evaluate_pair, infrastructure_error
from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
from cooperbench.sandbox import Sandbox, SandboxRequest
from cooperbench.sandbox_paths import WORKSPACE_DIR
from cooperbench.waiting import wait_for

# Room beyond the test runs for staging, merging and teardown in the sandbox lifetime.
_LIFETIME_MARGIN = 300
#: The backend option that decides whether workers start their next sandbox early.
START_AHEAD_OPTION = "start_ahead"


def start_ahead(declared: Sequence[BackendOption], options: Mapping[str, Any]) -> bool:
    """Whether workers start sandboxes ahead: the backend's ``start_ahead`` option (its
    default or the user's value), and True for backends that do not declare it."""
    if not any(option.name == START_AHEAD_OPTION for option in declared):
        return True
    return bool(option_value(declared, options, START_AHEAD_OPTION))


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


def sandbox_lifetime(request: EvalRequest) -> int:
    """Seconds the pair's sandbox may live: every feature's test budget plus a margin."""
    return request.timeout * len(request.pair.features) + _LIFETIME_MARGIN


def sandbox_request(request: EvalRequest, context: EvalContext, waiting: int = 0) -> SandboxRequest:
    """The sandbox one pair is evaluated in: its task image, no network, labelled.

    ``waiting`` adds the longest time the sandbox may sit ready before its pair starts.
    """
    return SandboxRequest(
        image=request.image,
        timeout=sandbox_lifetime(request) + waiting,
        workdir=WORKSPACE_DIR,
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
        """Wait for every teardown; raise the first failure (e.g. saving a result)."""
        with self._lock:
            futures = list(self._futures)
        wait_for(futures, cancel)

    def shutdown(self) -> None:
        """Finish the teardowns already started and stop the threads."""
        self._pool.shutdown(wait=True)


@attrs.define
class _Started:
    """A pair whose sandbox was created (or failed to be)."""

    index: int
    request: EvalRequest
    began: float
    sandbox: Sandbox | None = None
    startup: dict[str, float] = attrs.field(factory=dict)
    error: str | None = None


def evaluate_concurrently(
    backend: str, requests: Sequence[EvalRequest], context: EvalContext
) -> list[EvalResult]:
    """Evaluate ``requests`` with up to ``context.concurrency`` pairs at once."""
    live = LiveSandboxes()
    results: dict[int, EvalResult] = {}
    workers = max(1, min(context.concurrency, len(requests)))
    teardown = BackgroundTeardown(workers)
    starter = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cooperbench-start")
    todo = iter(enumerate(requests))
    todo_lock = threading.Lock()

    def take() -> tuple[int, EvalRequest] | None:
        if context.cancel.is_set():
            return None
        with todo_lock:
            return next(todo, None)

    def save(index: int, result: EvalResult) -> None:
        if context.cancel.is_set():
            return  # interrupted mid-pair: its result cannot be trusted
        results[index] = result
        context.report(result)

    def start(index: int, request: EvalRequest, waiting: int) -> _Started:
        began = time.monotonic()
        try:
            sandbox = context.create_sandbox(sandbox_request(request, context, waiting))
        except Exception as exc:  # noqa: BLE001 - recorded as an infrastructure error
            return _Started(index, request, began, error=f"sandbox did not start: {exc}")
        live.add(sandbox)
        startup = _startup_timings(sandbox, time.monotonic() - began)
        return _Started(index, request, began, sandbox, startup)

    def evaluate(started: _Started) -> None:
        index, request, sandbox = started.index, started.request, started.sandbox
        if sandbox is None:
            save(index, infrastructure_error(request, started.error or "", started.began))
            return
        if context.cancel.is_set():
            live.discard(sandbox)
            sandbox.terminate()
            return
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
            timings = {**started.startup, **result.timings, "teardown": time.monotonic() - stopping}
            image_id = {"image_id": getattr(sandbox, "image_id", None)}
            provenance = {**result.provenance, **image_id}
            save(index, attrs.evolve(result, timings=timings, provenance=provenance))

        if context.start_ahead:
            teardown.submit(stop)
        else:
            stop()  # gone before this worker's next sandbox starts

    def work() -> None:
        first = take()
        upcoming = starter.submit(start, *first, 0) if first is not None else None
        while upcoming is not None:
            current = upcoming.result()
            if not context.start_ahead:
                evaluate(current)
                following = take()
                upcoming = starter.submit(start, *following, 0) if following else None
                continue
            following = take()
            upcoming = None
            if following is not None:
                # Start the next pair's sandbox now; it may wait for this whole pair.
                waiting = sandbox_lifetime(current.request)
                upcoming = starter.submit(start, *following, waiting)
            evaluate(current)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cooperbench-eval")
    futures = [pool.submit(work) for _ in range(workers)]
    try:
        wait_for(futures, context.cancel)
        teardown.wait(context.cancel)
    except BaseException:
        context.cancel.set()
        live.terminate_all()
        pool.shutdown(wait=True, cancel_futures=True)
        starter.shutdown(wait=True, cancel_futures=True)
        teardown.shutdown()
        # Sandboxes whose creation was under way at the first sweep exist by now.
        live.terminate_all()
        raise
    pool.shutdown(wait=True)
    starter.shutdown(wait=True)
    teardown.shutdown()
    return [results[i] for i in sorted(results)]
