"""Evaluate finished pairs while the run goes on, in a pool of their own.

Each finished pair is one single-request batch through
:meth:`PluginManager.evaluate_patch`, so a backend's own evaluation (and core's
default pipeline) is used exactly as ``cooperbench eval`` uses it. The pool shares the
run's cancel event: on interrupt the pipeline tears down its sandboxes and saves nothing.
A backend that fails (raises, or returns without a result for the pair) never leaves
the pair silently unscored: its eval.json records an infrastructure error, which the
next run or eval retries.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from cooperbench.atomic import write_json_atomic
from cooperbench.dataset import Task
from cooperbench.evaluation.pipeline import infrastructure_error
from cooperbench.evaluation.provenance import stamper
from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
from cooperbench.labels import owner_labels
from cooperbench.logs import PairRun
from cooperbench.plugin_manager import PluginManager
from cooperbench.waiting import wait_for


class AutoEvaluator:
    """A worker pool that scores pairs as they are handed over."""

    def __init__(
        self,
        plugins: PluginManager,
        backend: str,
        run_name: str,
        *,
        concurrency: int,
        cancel: threading.Event,
        timeout: int,
        image_template: str | None = None,
        sandbox_options: Mapping[str, object] | None = None,
        on_result: Callable[[EvalResult], None] | None = None,
    ) -> None:
        """``on_result`` is called with every result written, errors included."""
        self._plugins = plugins
        self._backend = backend
        self._cancel = cancel
        self._timeout = timeout
        self._template = image_template
        self._on_result = on_result
        self._reported: set[PairRun] = set()
        self._labels = owner_labels(run=run_name, purpose="eval")
        self._options = dict(sandbox_options or {})
        self._pool = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="cooperbench-autoeval"
        )
        self._futures: list[Future[None]] = []
        self._lock = threading.Lock()

    def submit(self, pair: PairRun, task: Task) -> None:
        """Queue ``pair`` for evaluation (callable from any thread)."""
        request = EvalRequest(pair, task, task.image(self._template), self._timeout)
        with self._lock:
            self._futures.append(self._pool.submit(self._evaluate, request))

    def record(self, result: EvalResult) -> None:
        """Save a result the run decided without evaluating (a pair the harness failed)."""
        self._report(stamper(self._backend, [])(result))

    def _evaluate(self, request: EvalRequest) -> None:
        if self._cancel.is_set():
            return
        began = time.monotonic()
        context = EvalContext(
            create_sandbox=functools.partial(self._plugins.create_sandbox, self._backend),
            concurrency=1,
            report=self._report,
            cancel=self._cancel,
            labels=self._labels,
            sandbox_options=self._options,
        )
        try:
            returned = self._plugins.evaluate_patch(self._backend, [request], context)
        except BaseException as exc:  # noqa: BLE001 - recorded, the run goes on
            # The default pipeline raises KeyboardInterrupt here when the run is cancelled.
            if self._cancel.is_set():
                return
            message = f"evaluation failed on {self._backend}: {type(exc).__name__}: {exc}"
            self._record_failure(request, message, began)
            return
        if self._cancel.is_set() or self._was_reported(request.pair):
            return
        mine = [result for result in returned if result.pair.path == request.pair.path]
        if mine:  # returned but never reported: save it all the same
            self._report(mine[0])
        else:
            message = f"backend '{self._backend}' returned no evaluation result for the pair"
            self._record_failure(request, message, began)

    def _record_failure(self, request: EvalRequest, message: str, began: float) -> None:
        result = infrastructure_error(request, message, began)
        self._report(stamper(self._backend, [request])(result))

    def _was_reported(self, pair: PairRun) -> bool:
        with self._lock:
            return pair in self._reported

    def _report(self, result: EvalResult) -> None:
        write_json_atomic(result.pair.eval_path, result.to_json())
        with self._lock:
            self._reported.add(result.pair)
        if self._on_result is not None:
            self._on_result(result)

    def wait(self) -> None:
        """Wait for every queued evaluation, in short slices so Ctrl-C gets through."""
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                break
            wait_for(pending, self._cancel)  # more may be queued meanwhile: look again
        self._pool.shutdown(wait=True)

    def abort(self) -> None:
        """Stop: drop queued pairs and wait for running ones to tear down."""
        self._cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
