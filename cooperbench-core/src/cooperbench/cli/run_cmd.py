"""``cooperbench run``: run an agent on benchmark pairs, then score them."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

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
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
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
    as_json: bool,
) -> None:
    """Run AGENT on the selected feature pairs in sandboxes and evaluate the patches."""
    from cooperbench.dataset import Selection
    from cooperbench.evaluation.summary import format_table
    from cooperbench.evaluation.types import EvalResult
    from cooperbench.runs.api import run
    from cooperbench.runs.config import RunConfig
    from cooperbench.runs.pair import PairOutcome

    done = 0
    total = 0

    def on_start(config: RunConfig, todo: list[Selection], skipped: int) -> None:
        nonlocal total
        total = len(todo)
        extra = f", {skipped} already finished (use --force to redo)" if skipped else ""
        click.echo(
            f"{config.run_name}: {total} pair(s) to run with agent '{config.agent}' "
            f"({config.setting}) on {config.backend}{extra}",
            err=True,
        )

    def on_pair(outcome: PairOutcome) -> None:
        nonlocal done
        done += 1
        result = outcome.result or {}
        agents = result.get("agents") or {"solo": result.get("agent") or {}}
        states = ", ".join(f"{a}: {r.get('status')}" for a, r in agents.items())
        click.echo(
            f"[{done}/{total}] {result.get('pair')} {states} ({outcome.duration:.1f}s)", err=True
        )
        for agent_id, record in agents.items():
            if record.get("error"):
                click.echo(f"    {agent_id}: {record['error']}", err=True)

    def on_eval(result: EvalResult) -> None:
        detail = f" ({result.error_kind}: {result.error})" if result.error else ""
        click.echo(
            f"eval {result.pair.key} ({result.pair.setting}): {result.status}{detail}", err=True
        )

    with sigterm_as_interrupt():
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
            on_start=on_start,
            on_pair=on_pair,
            on_eval=on_eval,
        )
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    runs = summary["summary"]
    statuses = ", ".join(f"{k} {v}" for k, v in runs["agent_statuses"].items()) or "none"
    click.echo(
        f"run {summary['run_name']}: {runs['total_pairs']} pair(s) on disk, "
        f"{runs['finished_pairs']} finished; agents: {statuses}; logs in {summary['run_dir']}"
    )
    if summary["eval_summary"] is not None:
        click.echo(format_table(summary["eval_summary"]))
    sys.stdout.flush()
