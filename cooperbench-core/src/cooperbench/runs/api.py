"""``cooperbench.run``: run an agent on selected pairs, resume, auto-evaluate."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cooperbench.agents.registry import AgentRegistry
from cooperbench.agents.types import AgentOptions
from cooperbench.dataset import Dataset, Selection
from cooperbench.errors import UsageError
from cooperbench.evaluation.api import run_error_result
from cooperbench.evaluation.summary import build_summary, read_eval, status_of
from cooperbench.evaluation.summary import write_summary as write_eval_summary
from cooperbench.evaluation.types import DEFAULT_TEST_TIMEOUT, VERDICTS, EvalResult
from cooperbench.logs import PairRun, check_run_name, discover, resolve_log_dir
from cooperbench.messaging.url import RedisUrl
from cooperbench.plugin_manager import PluginManager
from cooperbench.runs.autoeval import AutoEvaluator
from cooperbench.runs.config import (
    RunConfig,
    build_agent_env,
    check_setting,
    default_run_name,
    image_template_in_effect,
    load_agent_config,
    new_run_id,
)
from cooperbench.runs.live import LiveResources
from cooperbench.runs.output import (
    infrastructure_errors,
    is_finished,
    pair_dir,
    read_result,
    write_config,
    write_summary,
)
from cooperbench.runs.pair import PairOutcome, PairRunner
from cooperbench.waiting import wait_for


def run(
    run_name: str | None = None,
    subset: str | None = None,
    repo: str | None = None,
    task: int | None = None,
    features: Sequence[int] | None = None,
    *,
    setting: str = "coop",
    agent: str = "gold",
    model: str | None = None,
    concurrency: int = 4,
    backend: str = "local",
    messaging: bool = True,
    git: bool = False,
    redis_url: str | None = None,
    force: bool = False,
    auto_eval: bool = True,
    eval_concurrency: int = 4,
    eval_timeout: int = DEFAULT_TEST_TIMEOUT,
    agent_config: str | Path | Mapping[str, Any] | None = None,
    agent_command: str | None = None,
    agent_timeout: int = 3600,
    dataset_dir: str | Path | None = None,
    log_dir: str | Path | None = None,
    image_template: str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    pass_env: Sequence[str] | None = None,
    plugins: PluginManager | None = None,
    agents: AgentRegistry | None = None,
    on_start: Callable[[RunConfig, list[Selection], int], None] | None = None,
    on_pair: Callable[[PairOutcome], None] | None = None,
    on_eval: Callable[[EvalResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run ``agent`` on the selected pairs and return the run summary.

    Pairs already finished (result.json present, no agent in ``Error``) are skipped
    unless ``force``. Unless ``auto_eval`` is off, finished pairs are evaluated while
    the others still run and the evaluation summary is included. Interrupting
    (``KeyboardInterrupt``, or setting ``cancel``) tears down every sandbox and
    messaging session and re-raises ``KeyboardInterrupt``. ``backend_options`` are
    checked against the options the backend declares and go to every sandbox of the run
    (for Docker, e.g. ``{"build_args": {"BASE_IMAGE": ...}}``). ``env`` and the
    variables named in ``pass_env`` (copied from this process's environment) reach every
    agent's commands on any backend; config.json records their names, never their
    values. ``plugins`` and ``agents`` default to discovering what is installed.

    A pair whose agent the harness failed (``error_kind`` infrastructure: its sandbox
    or messaging never started) is recorded but never evaluated, and runs again next
    time. The returned ``incomplete`` lists the selected pairs left without a verdict
    (without auto-eval: without a finished run), each with the reason.
    """
    setting = check_setting(setting)
    name = check_run_name(run_name or default_run_name(agent, setting))
    for flag, value in (("concurrency", concurrency), ("eval concurrency", eval_concurrency)):
        if value < 1:
            raise UsageError(f"bad {flag} {value}: use 1 or more")
    if agent_timeout < 1 or eval_timeout < 1:
        raise UsageError("timeouts must be positive numbers of seconds")
    if git and not messaging:
        raise UsageError("--git needs messaging; drop --no-messaging or --git")
    if redis_url is not None:
        RedisUrl.parse(redis_url)  # a malformed URL fails before any work
    agent_env = build_agent_env(env, pass_env)
    manager = plugins if plugins is not None else PluginManager.discover()
    registry = agents if agents is not None else AgentRegistry.discover()
    chosen = registry.require(agent)
    options = AgentOptions(model, load_agent_config(agent_config), agent_command, agent_timeout)
    check = getattr(chosen, "check", None)
    if callable(check):
        check(options)
    options_for_backend = manager.resolve_options(backend, backend_options or {})
    manager.require_usable_backend(backend)
    dataset = Dataset(dataset_dir)
    selections = dataset.select(subset=subset, repo=repo, task=task, features=features)
    config = RunConfig(
        run_name=name,
        run_id=new_run_id(),
        setting=setting,
        agent=agent,
        options=options,
        backend=backend,
        log_dir=resolve_log_dir(log_dir),
        messaging=messaging,
        git=git,
        redis_url=redis_url,
        image_template=image_template,
        sandbox_options=options_for_backend,
        concurrency=concurrency,
        force=force,
        auto_eval=auto_eval,
        eval_concurrency=eval_concurrency,
        eval_timeout=eval_timeout,
        agent_env=agent_env,
    )
    todo = [s for s in selections if force or not is_finished(_folder(config, s))]
    skipped = [s for s in selections if s not in todo]
    # Resolving the image names may reject the template: before anything is written.
    invocation = _invocation(config, dataset, selections, env, pass_env)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    write_config(config.run_dir, invocation)
    if on_start is not None:
        on_start(config, todo, len(skipped))
    stop = cancel or threading.Event()
    evaluator = _evaluator(config, manager, stop, on_eval) if auto_eval else None
    if evaluator is not None:
        for selection in skipped:  # finished earlier but never scored
            pair = _pair_run(config, selection)
            if status_of(read_eval(pair)) not in VERDICTS:
                evaluator.submit(pair, selection.task)
    runner = PairRunner(config, chosen, manager, LiveResources(), stop)
    outcomes = _run_all(config, runner, todo, evaluator, on_pair)
    summary = write_summary(config.log_dir, name)
    result: dict[str, Any] = {
        "run_name": name,
        "run_dir": str(config.run_dir),
        "pairs_selected": len(selections),
        "pairs_run": len(outcomes),
        "pairs_skipped": len(skipped),
        "summary": summary,
        "eval_summary": None,
        "incomplete": [],
    }
    if evaluator is not None:
        eval_summary = build_summary(name, discover(config.log_dir, name))
        write_eval_summary(config.run_dir, eval_summary)
        result["eval_summary"] = eval_summary
    result["incomplete"] = incomplete_pairs(config, selections)
    return result


def incomplete_pairs(config: RunConfig, selections: Sequence[Selection]) -> list[dict[str, str]]:
    """The selected pairs without a verdict (or, without auto-eval, a finished run).

    Each is ``{"run": <repo>/<task>/<a>,<b>, "reason": ...}``. An agent's own ``Error``
    is a result, not a gap: such a pair is scored like any other.
    """
    missing = []
    for selection in selections:
        pair = _pair_run(config, selection)
        result = read_result(pair.path)
        if result is None:
            reason = "no readable result.json"
        elif infrastructure_errors(result):
            reason = "infrastructure error: " + "; ".join(infrastructure_errors(result))
        elif config.auto_eval and status_of(read_eval(pair)) not in VERDICTS:
            document = read_eval(pair) or {}
            reason = f"evaluation error: {document.get('error')}" if document else "not evaluated"
        else:
            continue
        missing.append({"run": pair.key, "reason": reason})
    return missing


def _run_all(
    config: RunConfig,
    runner: PairRunner,
    todo: list[Selection],
    evaluator: AutoEvaluator | None,
    on_pair: Callable[[PairOutcome], None] | None,
) -> list[PairOutcome]:
    """Run pairs ``config.concurrency`` at a time; tear everything down on interrupt."""
    outcomes: list[PairOutcome] = []
    lock = threading.Lock()

    def work(selection: Selection) -> None:
        if runner.cancel.is_set():
            return
        outcome = runner.run(selection)
        if outcome.result is None:
            return  # cancelled mid-pair: nothing was written
        with lock:
            outcomes.append(outcome)
        if evaluator is not None:
            pair = _pair_run(config, selection)
            # A pair the harness failed has no verdict to give: its eval.json says so
            # (an error, counted as one) and the pair runs again next time.
            unscorable = run_error_result(pair)
            if unscorable is not None:
                evaluator.record(unscorable)
            else:
                evaluator.submit(pair, selection.task)
        if on_pair is not None:
            on_pair(outcome)

    pool = ThreadPoolExecutor(
        max_workers=max(1, min(config.concurrency, len(todo))),
        thread_name_prefix="cooperbench-pair",
    )
    futures: list[Future[None]] = [pool.submit(work, selection) for selection in todo]
    try:
        wait_for(futures, runner.cancel)
        pool.shutdown(wait=True)
        if evaluator is not None:
            evaluator.wait()
    except BaseException:
        runner.cancel.set()
        for future in futures:
            future.cancel()
        runner.live.close_all()
        if evaluator is not None:
            evaluator.abort()
        pool.shutdown(wait=True, cancel_futures=True)
        runner.live.close_all()  # whatever started while the workers were stopping
        raise
    return outcomes


def _evaluator(
    config: RunConfig,
    plugins: PluginManager,
    cancel: threading.Event,
    on_eval: Callable[[EvalResult], None] | None,
) -> AutoEvaluator:
    return AutoEvaluator(
        plugins,
        config.backend,
        config.run_name,
        concurrency=config.eval_concurrency,
        cancel=cancel,
        timeout=config.eval_timeout,
        image_template=config.image_template,
        sandbox_options=config.sandbox_options,
        on_result=on_eval,
    )


def _folder(config: RunConfig, selection: Selection) -> Path:
    return pair_dir(config.run_dir, config.setting, selection)


def _pair_run(config: RunConfig, selection: Selection) -> PairRun:
    return PairRun(
        config.run_name,
        config.setting,
        selection.task.repo,
        selection.task.task_id,
        tuple(sorted(selection.features)),
        _folder(config, selection),
    )


def _invocation(
    config: RunConfig,
    dataset: Dataset,
    selections: list[Selection],
    env: Mapping[str, str] | None,
    pass_env: Sequence[str] | None,
) -> dict[str, Any]:
    """config.json: what this invocation ran with.

    Secrets never land here: not the Redis password, not the values of the agents'
    variables, not the values of backend options (build arguments may hold tokens);
    only their names.
    """
    from cooperbench import __version__

    redis = RedisUrl.parse(config.redis_url).address if config.redis_url else None
    images = {
        f"{s.task.repo}/{s.task.task_id}": s.task.image(config.image_template) for s in selections
    }
    return {
        "run_name": config.run_name,
        "run_id": config.run_id,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cooperbench_version": __version__,
        "setting": config.setting,
        "agent": config.agent,
        "model": config.options.model,
        "agent_config": dict(config.options.config),
        "agent_command": config.options.command,
        "agent_timeout": config.options.timeout,
        "backend": config.backend,
        "backend_options": _option_names(config.sandbox_options),
        "image_template": image_template_in_effect(config.image_template),
        "images": dict(sorted(images.items())),
        "env": sorted(env or {}),
        "pass_env": sorted(pass_env or ()),
        "messaging": config.uses_messaging,
        "git": config.git,
        "redis": redis,
        "concurrency": config.concurrency,
        "force": config.force,
        "auto_eval": config.auto_eval,
        "eval_concurrency": config.eval_concurrency,
        "eval_timeout": config.eval_timeout,
        "dataset_dir": str(dataset.root),
        "pairs": [
            f"{s.task.repo}/{s.task.task_id}/{','.join(str(f) for f in s.features)}"
            for s in selections
        ],
    }


def _option_names(options: Mapping[str, Any]) -> list[str]:
    """The backend options given, by name; of a mapping (build args) ``name.KEY`` each."""
    names: list[str] = []
    for name, value in sorted(options.items()):
        if isinstance(value, Mapping) and value:
            names.extend(f"{name}.{key}" for key in sorted(str(k) for k in value))
        else:
            names.append(name)
    return names
