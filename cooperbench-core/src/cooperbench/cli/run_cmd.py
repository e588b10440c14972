"""``cooperbench run``: run an agent on benchmark pairs, then score them."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from cooperbench.runs.pair import PairOutcome

logger = logging.getLogger(__name__)


@click.command("run")
@click.option(
    "-n",
    "--name",
    "run_name",
    help="Run name (folder under the log dir) [default: <agent>-<setting>-<time>].",
)
@selection_options
@location_options
@click.option(
    "--setting",
    type=click.Choice(["coop", "solo"]),
    default="coop",
    show_default=True,
    help="coop: one agent per feature; solo: one agent implements all of them.",
)
@click.option(
    "-a",
    "--agent",
    default="gold",
    show_default=True,
    help="Agent plugin (see 'cooperbench agents').",
)
@click.option("-m", "--model", help="Model name, passed through to the agent.")
@click.option(
    "--agent-config",
    type=click.Path(dir_okay=False),
    help="JSON or TOML file of agent settings, passed to the agent.",
)
@click.option("--agent-command", help="Shell command the 'command' agent runs in the repository.")
@click.option(
    "--agent-timeout",
    type=click.IntRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds one agent may work.",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Pairs run at the same time.",
)
@backend_name_option
@click.option("--no-messaging", is_flag=True, help="Agents cannot message each other.")
@click.option("--git", is_flag=True, help="Give the agents of a pair a shared git remote.")
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="Use this Redis server instead of starting one, e.g. redis://host:6379.",
)
@click.option("--force", is_flag=True, help="Re-run pairs that already finished.")
@click.option("--no-auto-eval", is_flag=True, help="Do not evaluate pairs as they finish.")
@click.option(
    "--eval-concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Pairs evaluated at the same time.",
)
@test_timeout_option("--eval-timeout")
@image_template_option
@backend_option_flags
@click.option(
    "--env",
    "env",
    multiple=True,
    metavar="KEY=VALUE",
    help="Variable for the agents' commands (repeatable; only its name is logged).",
)
@click.option(
    "--pass-env",
    "pass_env",
    multiple=True,
    metavar="KEY",
    help="Give the agents this variable of your environment (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@verbose_option
def run_command(
    run_name: str | None,
    subset: str | None,
    repo: str | None,
    task: int | None,
    features: tuple[int, ...] | None,
    dataset_dir: str | None,
    log_dir: str | None,
    setting: str,
    agent: str,
    model: str | None,
    agent_config: str | None,
    agent_command: str | None,
    agent_timeout: int,
    concurrency: int,
    backend: str,
    no_messaging: bool,
    git: bool,
    redis_url: str | None,
    force: bool,
    no_auto_eval: bool,
    eval_concurrency: int,
    eval_timeout: int,
    image_template: str | None,
    backend_option: tuple[str, ...],
    build_args: tuple[str, ...],
    env: tuple[str, ...],
    pass_env: tuple[str, ...],
    as_json: bool,
    verbose: int,
) -> None:
    """Run AGENT on the selected feature pairs in sandboxes and evaluate the patches.

    Exits 0 when every selected pair has a verdict (without auto-eval: a finished run),
    else 3 after writing every result, with one line saying how many pairs have none.
    """
    from cooperbench.cli.console import make_console, setup_logging
    from cooperbench.cli.progress import ProgressDisplay
    from cooperbench.dataset import Selection
    from cooperbench.evaluation.types import EvalResult
    from cooperbench.runs.api import run
    from cooperbench.runs.config import RunConfig, parse_env_assignments

    console = make_console(err=True)
    setup_logging(verbose, console)
    display = ProgressDisplay(console)

    def on_start(config: RunConfig, todo: list[Selection], skipped: int) -> None:
        extra = f", {skipped} already finished (use --force to redo)" if skipped else ""
        display.line(
            f"{config.run_name}: {len(todo)} pair(s) to run with agent '{config.agent}' "
            f"({config.setting}) on {config.backend}{extra}"
        )
        display.add_bar("run", "agents", len(todo))
        if config.auto_eval:
            # Finished but unscored pairs are evaluated too: the bar grows when they come.
            display.add_bar("eval", "evaluation", len(todo), counts=True)

    def on_pair(outcome: PairOutcome) -> None:
        logger.info("%s: %s", (outcome.result or {}).get("pair"), outcome.folder)
        done, total = display.advance("run")
        lines = pair_lines(outcome, f"[{done}/{total}]")
        for line in lines:
            display.line(line, _markup(line))

    def on_eval(result: EvalResult) -> None:
        logger.info("%s (%s): %s", result.pair.key, result.pair.setting, result.pair.eval_path)
        display.eval_result(result)

    with sigterm_as_interrupt(), display:
        summary: dict[str, Any] = run(
            run_name,
            subset,
            repo,
            task,
            features,
            setting=setting,
            agent=agent,
            model=model,
            concurrency=concurrency,
            backend=backend,
            messaging=not no_messaging,
            git=git,
            redis_url=redis_url,
            force=force,
            auto_eval=not no_auto_eval,
            eval_concurrency=eval_concurrency,
            eval_timeout=eval_timeout,
            agent_config=agent_config,
            agent_command=agent_command,
            agent_timeout=agent_timeout,
            dataset_dir=dataset_dir,
            log_dir=log_dir,
            image_template=image_template,
            backend_options=collect_backend_options(backend_option, build_args),
            env=parse_env_assignments(env),
            pass_env=list(pass_env),
            on_start=on_start,
            on_pair=on_pair,
            on_eval=on_eval,
        )
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    sys.stdout.flush()
    incomplete = summary["incomplete"]
    if incomplete:
        kinds: dict[str, int] = {}
        for pair in incomplete:
            kind = pair["reason"].split(":")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        why = ", ".join(f"{kind}: {count}" for kind, count in sorted(kinds.items()))
        click.echo(
            f"error: {len(incomplete)} of {summary['pairs_selected']} selected pair(s) have "
            f"no verdict ({why}); run the same command again to retry them",
            err=True,
        )
        click.get_current_context().exit(exit_codes.INCOMPLETE)


def pair_lines(outcome: PairOutcome, counter: str) -> list[str]:
    """What ``run`` prints when a pair finishes: its agents' states, errors and warnings."""
    result = outcome.result or {}
    agents = result.get("agents") or {"solo": result.get("agent") or {}}
    states = ", ".join(f"{a}: {r.get('status')}" for a, r in agents.items())
    lines = [f"{counter} {result.get('pair')} {states} ({outcome.duration:.1f}s)"]
    lines += [f"    {a}: {r['error']}" for a, r in agents.items() if r.get("error")]
    if result.get("conversation_error"):
        # The patches are kept; the lost messages must not pass unnoticed.
        lines.append(
            f"warning: {result.get('pair')}: conversation not saved: {result['conversation_error']}"
        )
    return lines


def _markup(line: str) -> str:
    """A pair line with its warning or error part coloured, for the terminal."""
    from rich.markup import escape

    escaped = escape(line)
    if line.startswith("warning: "):
        return f"[yellow]{escaped}[/yellow]"
    if line.startswith("    "):
        return f"[red]{escaped}[/red]"
    return escaped


def _print_summary(summary: dict[str, Any]) -> None:
    """The human-readable end of a run: pair and agent counts, the eval table, failures."""
    from pathlib import Path

    from cooperbench.cli.results import echo_results
    from cooperbench.logs import discover

    runs = summary["summary"]
    statuses = ", ".join(f"{k} {v}" for k, v in runs["agent_statuses"].items()) or "none"
    click.echo(
        f"run {summary['run_name']}: {runs['total_pairs']} pair(s) on disk, "
        f"{runs['finished_pairs']} finished; agents: {statuses}; logs in {summary['run_dir']}"
    )
    if summary["eval_summary"] is not None:
        run_dir = Path(summary["run_dir"])
        pairs = discover(run_dir.parent, summary["run_name"])
        echo_results(summary["eval_summary"], summary["run_name"], pairs)
