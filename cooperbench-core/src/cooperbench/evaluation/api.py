"""The evaluation entry points: :func:`evaluate` a run, :func:`run_patch_test` one patch."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from cooperbench.atomic import write_json_atomic
from cooperbench.dataset import Dataset, Task
from cooperbench.errors import INFRASTRUCTURE, DatasetError, LogsError, UsageError
from cooperbench.evaluation.batch import start_ahead
from cooperbench.evaluation.pipeline import now_iso
from cooperbench.evaluation.provenance import stored_backend
from cooperbench.evaluation.summary import build_summary, read_eval, status_of, write_summary
from cooperbench.evaluation.types import (
    DEFAULT_TEST_TIMEOUT,
    VERDICTS,
    EvalContext,
    EvalRequest,
    EvalResult,
)
from cooperbench.labels import owner_labels
from cooperbench.logs import PairRun, discover, resolve_log_dir, run_dir
from cooperbench.plugin_manager import PluginManager


@attrs.frozen
class EvalPlan:
    """What one ``eval`` invocation will do."""

    run_name: str
    run_dir: Path
    pairs: tuple[PairRun, ...]
    requests: tuple[EvalRequest, ...]
    already_done: int
    unresolved: tuple[str, ...]
    #: Pairs with a verdict from another backend, scored again: ``key (setting): backend``.
    rescored: tuple[str, ...] = ()
    #: Pairs not evaluated because an agent ended in an infrastructure error: their
    #: results are errors (retried once the run has been redone).
    agent_errors: tuple[EvalResult, ...] = ()


#: What ``retry`` may ask to evaluate again besides errors.
RETRY_CHOICES = ("timeouts",)


def plan_evaluation(
    run_name: str,
    *,
    log_dir: str | Path | None = None,
    dataset_dir: str | Path | None = None,
    subset: str | None = None,
    repo: str | None = None,
    task: int | None = None,
    features: Sequence[int] | None = None,
    force: bool = False,
    timeout: int = DEFAULT_TEST_TIMEOUT,
    image_template: str | None = None,
    backend: str | None = None,
    retry: Sequence[str] = (),
) -> EvalPlan:
    """Find the pairs to evaluate; pairs with a verdict are skipped unless ``force``.

    Pairs whose eval.json records an infrastructure error are always evaluated again,
    and so are pairs whose verdict came from a backend other than ``backend``. A pair
    that failed because its tests timed out is a verdict: it is evaluated again only
    with ``retry=("timeouts",)``. A pair whose agents ended in an infrastructure error
    (``error_kind`` in result.json) gets an error result instead of a sandbox.
    """
    unknown = sorted(set(retry) - set(RETRY_CHOICES))
    if unknown:
        raise UsageError(f"bad retry {unknown[0]!r}: use one of {', '.join(RETRY_CHOICES)}")
    if timeout <= 0:
        raise UsageError(f"bad timeout {timeout}: use a positive number of seconds")
    logs = resolve_log_dir(log_dir)
    folder = run_dir(logs, run_name)
    dataset = Dataset(dataset_dir)
    if features:
        dataset.check_features(features, repo=repo, task=task)
    pairs = discover(logs, run_name, repo=repo, task=task, features=features)
    if subset is not None:
        allowed = _subset_filter(dataset, subset)
        pairs = [p for p in pairs if allowed(p)]
    requests, unresolved, rescored, done = [], [], [], 0
    agent_errors = []
    for pair in pairs:
        stored = read_eval(pair)
        retried = "timeouts" in retry and bool(stored and stored.get("timed_out"))
        if not force and not retried and status_of(stored) in VERDICTS:
            scored_on = stored_backend(stored)
            if backend is None or scored_on in (None, backend):
                done += 1
                continue
            rescored.append(f"{pair.key} ({pair.setting}): scored on {scored_on}")
        try:
            resolved = _task_for(dataset, pair)
            for feature_id in pair.features:
                resolved.feature(feature_id)
        except DatasetError as exc:
            unresolved.append(f"{pair.key}: {exc}")
            continue
        if pair.repo is None:
            pair = attrs.evolve(pair, repo=resolved.repo)
        unscorable = run_error_result(pair)
        if unscorable is not None:
            agent_errors.append(unscorable)
            continue
        requests.append(EvalRequest(pair, resolved, resolved.image(image_template), timeout))
    return EvalPlan(
        run_name,
        folder,
        tuple(pairs),
        tuple(requests),
        done,
        tuple(unresolved),
        tuple(rescored),
        tuple(agent_errors),
    )


def evaluate(
    run_name: str,
    backend: str = "local",
    concurrency: int = 10,
    force: bool = False,
    subset: str | None = None,
    repo: str | None = None,
    task: int | None = None,
    features: Sequence[int] | None = None,
    *,
    log_dir: str | Path | None = None,
    dataset_dir: str | Path | None = None,
    timeout: int = DEFAULT_TEST_TIMEOUT,
    image_template: str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    retry: Sequence[str] = (),
    plugins: PluginManager | None = None,
    on_result: Callable[[EvalResult], None] | None = None,
    on_plan: Callable[[EvalPlan], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Evaluate the pairs of run ``run_name`` and return the run-wide summary.

    Each pair's eval.json is written atomically as soon as the pair finishes, and
    eval_summary.json at the run root covers every evaluated pair of the run.
    ``backend_options`` are checked against the options the backend declares before
    any work (``cooperbench backends --options NAME`` lists them). ``retry=("timeouts",)``
    evaluates again the pairs that failed because their tests timed out. The summary's
    ``incomplete`` lists the selected pairs left without a verdict (errors, or never
    evaluated): the CLI exits with ``INCOMPLETE`` when it is not empty.
    """
    if concurrency < 1:
        raise UsageError(f"bad concurrency {concurrency}: use 1 or more")
    manager = plugins if plugins is not None else PluginManager.discover()
    options = manager.resolve_options(backend, backend_options or {})
    plan = plan_evaluation(
        run_name,
        log_dir=log_dir,
        dataset_dir=dataset_dir,
        subset=subset,
        repo=repo,
        task=task,
        features=features,
        force=force,
        timeout=timeout,
        image_template=image_template,
        backend=backend,
        retry=retry,
    )
    if plan.requests:
        manager.require_usable_backend(backend)
    if on_plan is not None:
        on_plan(plan)

    def report(result: EvalResult) -> None:
        write_json_atomic(result.pair.eval_path, result.to_json())
        if on_result is not None:
            on_result(result)

    for result in plan.agent_errors:
        report(result)
    if plan.requests:
        context = EvalContext(
            create_sandbox=functools.partial(manager.create_sandbox, backend),
            concurrency=concurrency,
            report=report,
            cancel=cancel or threading.Event(),
            labels=owner_labels(run=run_name, purpose="eval"),
            sandbox_options=options,
            start_ahead=start_ahead(manager.backend_options(backend), options),
        )
        manager.evaluate_patch(backend, plan.requests, context)
    # Summarize every pair of the run on disk, whatever this invocation selected.
    everything = discover(resolve_log_dir(log_dir), run_name)
    summary = build_summary(run_name, everything)
    write_summary(plan.run_dir, summary)
    summary["incomplete"] = [
        f"{pair.key} ({pair.setting})"
        for pair in plan.pairs
        if status_of(read_eval(pair)) not in VERDICTS
    ]
    return summary


def run_patch_test(
    repo_name: str,
    task_id: int,
    feature_id: int,
    agent_patch: str | Path,
    timeout: int = DEFAULT_TEST_TIMEOUT,
    backend: str = "local",
    *,
    dataset_dir: str | Path | None = None,
    image_template: str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    plugins: PluginManager | None = None,
) -> dict[str, Any]:
    """Test one patch (text or a path to a patch file) against one feature's hidden tests.

    Returns the feature result as eval.json records it, plus ``apply_status``.
    """
    import tempfile

    from cooperbench.evaluation.batch import sandbox_request
    from cooperbench.evaluation.pipeline import evaluate_pair

    dataset = Dataset(dataset_dir)
    chosen = dataset.task(repo_name, task_id)
    chosen.feature(feature_id)
    text = Path(agent_patch).read_text() if isinstance(agent_patch, Path) else agent_patch
    manager = plugins if plugins is not None else PluginManager.discover()
    options = manager.resolve_options(backend, backend_options or {})
    manager.require_usable_backend(backend)
    with tempfile.TemporaryDirectory(prefix="cooperbench-patch-") as scratch:
        pair = PairRun("patch-test", "solo", repo_name, task_id, (feature_id,), Path(scratch))
        pair.patch_path(None).write_text(text)
        request = EvalRequest(pair, chosen, chosen.image(image_template), timeout)
        context = EvalContext(
            create_sandbox=functools.partial(manager.create_sandbox, backend),
            labels=owner_labels(purpose="patch-test"),
            sandbox_options=options,
        )
        started = time.monotonic()
        with context.create_sandbox(sandbox_request(request, context)) as sandbox:
            result = evaluate_pair(sandbox, request)
    document: dict[str, Any] = (
        result.features[0].to_json() if result.features else {"passed": False}
    )
    document["apply_status"] = result.apply_status.get("solo", "unknown")
    document["error"] = result.error
    document["error_kind"] = result.error_kind
    document["total_seconds"] = round(time.monotonic() - started, 3)
    return document


def run_error_result(pair: PairRun) -> EvalResult | None:
    """The error result of a pair the harness failed during the run, else ``None``.

    Such a pair has nothing of the agents' to score: its result is an infrastructure
    error (retried once the pair has been run again), never a failed verdict.
    """
    broken = _agents_with_infrastructure_errors(pair)
    if not broken:
        return None
    message = (
        f"{', '.join(broken)} ended in an infrastructure error during the run; "
        "run the pair again (cooperbench run) before scoring it"
    )
    return EvalResult(pair, error=message, error_kind=INFRASTRUCTURE, evaluated_at=now_iso())


def _agents_with_infrastructure_errors(pair: PairRun) -> list[str]:
    """The agents of ``pair`` whose result.json record says ``error_kind: infrastructure``."""
    try:
        result = pair.result()
    except LogsError:
        return []
    agents = result.get("agents")
    if not isinstance(agents, dict):
        solo = result.get("agent")
        agents = {"agent": solo} if isinstance(solo, dict) else {}
    return sorted(
        name
        for name, record in agents.items()
        if isinstance(record, dict) and record.get("error_kind") == INFRASTRUCTURE
    )


def _task_for(dataset: Dataset, pair: PairRun) -> Task:
    if pair.repo is None:
        return dataset.find_task(pair.task_id)
    return dataset.task(pair.repo, pair.task_id)


def _subset_filter(dataset: Dataset, subset: str) -> Callable[[PairRun], bool]:
    entries = dataset.subset(subset)
    whole = {(e.repo, e.task_id) for e in entries if e.pairs is None}
    listed = {(e.repo, e.task_id, p) for e in entries if e.pairs is not None for p in e.pairs}

    def allowed(pair: PairRun) -> bool:
        repo = pair.repo or ""
        return (repo, pair.task_id) in whole or (repo, pair.task_id, pair.features) in listed

    return allowed
