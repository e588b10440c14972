"""Print plugins (backends or agents) and other listings as aligned tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from cooperbench.entry_points import CONFLICT, PluginInfo


def plugin_row(info: PluginInfo) -> dict[str, Any]:
    """The columns every plugin listing shows: name, distribution, version, state, detail."""
    detail = info.error or ""
    if info.state == CONFLICT:
        detail = f"also registered by {', '.join(info.conflicts_with)}"
    return {
        "name": info.name,
        "distribution": info.dist_name or "",
        "version": info.dist_version or "",
        "state": info.state,
        "detail": detail,
    }


def echo_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], headers: Sequence[str]
) -> None:
    """Print ``rows`` (keys ``columns``) under ``headers``, one line per row."""
    table = [tuple(headers)] + [tuple(str(row[column]) for column in columns) for row in rows]
    # The last column is free text: it is not padded, so long details do not widen rows.
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        click.echo("  ".join(cells).rstrip())
