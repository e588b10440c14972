"""``cooperbench report``: write a run's HTML report."""

from __future__ import annotations

import click

from cooperbench.logs import LOG_DIR_ENV_VAR


@click.command("report")
@click.option(
    "-n", "--name", "run_name", required=True, help="Run name (folder under the log dir)."
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    help=f"Logs folder [default: ./logs; env {LOG_DIR_ENV_VAR}].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="HTML file to write [default: <log dir>/<run>/report.html].",
)
def report_command(run_name: str, log_dir: str | None, output: str | None) -> None:
    """Write one self-contained HTML page about run NAME from its files on disk.

    Pass rates overall and by repository, merge outcomes against verdicts, a feature
    pass matrix per task, time per evaluation phase and a sortable table of pairs with
    their failing tests, merged diffs and conversations. It opens offline. Needs the
    report extra (matplotlib): pip install 'cooperbench-core[report]'.
    """
    from cooperbench.report import write_report
    from cooperbench.report.charts import missing_matplotlib

    problem = missing_matplotlib()
    if problem is not None:
        raise click.ClickException(problem)
    path = write_report(run_name, log_dir=log_dir, output=output)
    click.echo(str(path))
