"""``cooperbench eval``: score a run's patches and print the summary."""

from __future__ import annotations

import json
import logging
import sys

import click

from cooperbench.cli import exit_codes
from cooperbench.cli.console import verbose_option
from cooperbench.cli.interrupt import sigterm_as_interrupt
from cooperbench.cli.options import (
    backend_name_option,
    backend_option_flags,
    collect_backend_options,
    image_template_option,
    location_options,
    selection_options,
    test_timeout_option,
)

logger = logging.getLogger(__name__)


@click.command("eval")
@click.option(
    "-n", "--name", "run_name", required=True, help="Run name (folder under the log dir)."
)
@selection_options
@location_options
@backend_name_option
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Pairs evaluated at the same time.",
)
@click.option("--force", is_flag=True, help="Re-evaluate pairs that already have eval.json.")
@click.option(
    "--retry",
    type=click.Choice(["timeouts"]),
    multiple=True,
    help="Also re-evaluate pairs that failed because their tests timed out.",
)
@test_timeout_option("--timeout")
@image_template_option
@backend_option_flags
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@verbose_option
def eval_command(
    run_name: str,
    subset: str | None,
    repo: str | None,
    task: int | None,
    features: tuple[int, ...] | None,
    dataset_dir: str | None,
    log_dir: str | None,
    backend: str,
    concurrency: int,
    force: bool,
    retry: tuple[str, ...],
    timeout: int,
    image_template: str | None,
    backend_option: tuple[str, ...],
    build_args: tuple[str, ...],
    as_json: bool,
    verbose: int,
) -> None:
    """Evaluate the agents' patches of run NAME: merge them and run the hidden tests."""

    from cooperbench.cli.console import make_console, setup_logging
    from cooperbench.cli.progress import ProgressDisplay
    from cooperbench.cli.results import echo_results
    from cooperbench.evaluation.api import EvalPlan, evaluate
    from cooperbench.evaluation.types import EvalResult
    from cooperbench.logs import discover, resolve_log_dir

    console = make_console(err=True)
    setup_logging(verbose, console)
    display = ProgressDisplay(console)

    def on_plan(plan: EvalPlan) -> None:
        for problem in plan.unresolved:
            display.line(f"warning: skipping {problem}")
        if plan.rescored:
            display.line(
                f"{len(plan.rescored)} pair(s) have a verdict from another backend and are "
                f"scored again on {backend}: {'; '.join(plan.rescored[:3])}"
                + (" ..." if len(plan.rescored) > 3 else "")
            )
        display.line(
            f"{run_name}: {len(plan.requests)} pair(s) to evaluate on {backend}, "
            f"{plan.already_done} already evaluated"
            + (" (use --force to redo)" if plan.already_done else "")
        )
        todo = len(plan.requests) + len(plan.agent_errors)
        if todo:
            display.add_bar("eval", "evaluating", todo, counts=True)

    def on_result(result: EvalResult) -> None:
        logger.info("%s (%s): %s", result.pair.key, result.pair.setting, result.pair.eval_path)
        display.eval_result(result, numbered=True)

    with sigterm_as_interrupt(), display:
        summary = evaluate(
            run_name,
            backend=backend,
            concurrency=concurrency,
            force=force,
            subset=subset,
            repo=repo,
            task=task,
            features=features,
            log_dir=log_dir,
            dataset_dir=dataset_dir,
            timeout=timeout,
            image_template=image_template,
            backend_options=collect_backend_options(backend_option, build_args),
            retry=retry,
            on_plan=on_plan,
            on_result=on_result,
        )
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        echo_results(summary, run_name, discover(resolve_log_dir(log_dir), run_name))
    incomplete = summary["incomplete"]
    if incomplete:
        click.echo(
            f"error: {len(incomplete)} selected pair(s) have no verdict (e.g. {incomplete[0]}); "
            "every result is written, run the same command again to retry them",
            err=True,
        )
        sys.exit(exit_codes.INCOMPLETE)
