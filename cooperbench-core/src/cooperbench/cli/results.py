"""The end of ``run`` and ``eval``: the summary table, then what did not pass and why."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from cooperbench.cli.console import echo_renderable, new_table
from cooperbench.cli.progress import styled_status
from cooperbench.evaluation.summary import not_passed
from cooperbench.logs import PairRun

if TYPE_CHECKING:
    from rich.table import Table

#: Pairs listed under the table at most; the rest are counted (the report lists all).
MAX_LISTED = 50


def summary_table(summary: dict[str, Any]) -> Table:
    """One row per repository and an ``overall`` row: counts, pass rate, conflict rate."""
    table = new_table(
        "", "pairs", "passed", "failed", "errors", "skipped", "pass rate", "conflicts"
    )
    for column in table.columns[1:]:
        column.justify = "right"
    from rich.markup import escape

    for repo, tally in summary["by_repo"].items():
        table.add_row(*_cells(escape(repo), tally))
    table.add_section()
    table.add_row(*_cells("overall", summary), style="bold")
    return table


def _cells(label: str, tally: dict[str, Any]) -> list[str]:
    def count(key: str, style: str) -> str:
        value = int(tally[key])
        return f"[{style}]{value}[/{style}]" if value else "0"

    return [
        label,
        str(tally["total_runs"]),
        count("passed", "green"),
        count("failed", "red"),
        count("errors", "yellow"),
        str(tally["skipped"]),
        f"{tally['pass_rate'] * 100:.1f}%",
        f"{tally['merge_conflict_rate'] * 100:.1f}%",
    ]


def not_passed_table(rows: Sequence[dict[str, str]]) -> Table:
    """The failed and erroring pairs with their first failing test or error reason."""
    from rich.markup import escape

    table = new_table("status", "pair", "reason", title="not passed")
    for row in rows:
        pair = escape(f"{row['run']} ({row['setting']})")
        table.add_row(styled_status(row["status"]), pair, escape(row["reason"]))
    return table


def echo_results(summary: dict[str, Any], run_name: str, pairs: Iterable[PairRun]) -> None:
    """Print the summary table and, when some pairs failed or erred, the list of them."""
    echo_renderable(summary_table(summary))
    rows = not_passed(pairs)
    if rows:
        echo_renderable(not_passed_table(rows[:MAX_LISTED]))
    if len(rows) > MAX_LISTED:
        more = len(rows) - MAX_LISTED
        click.echo(f"... and {more} more: cooperbench report -n {run_name} lists them all")
