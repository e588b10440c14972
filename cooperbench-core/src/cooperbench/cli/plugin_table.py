"""Print a list of plugins (backends or agents) as a table, or as JSON for machines."""

from __future__ import annotations

import json

import click

COLUMNS = ("name", "distribution", "version", "state", "detail")


def echo_plugin_rows(rows: list[dict[str, str]], headers: tuple[str, ...], as_json: bool) -> None:
    """Print ``rows`` (keys :data:`COLUMNS`) under ``headers``, or as JSON."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [headers] + [tuple(row[column] for column in COLUMNS) for row in rows]
    # The last column is free text: it is not padded, so long details do not widen rows.
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        click.echo("  ".join(cells).rstrip())
