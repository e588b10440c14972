"""Print plugins (backends or agents) and other listings as tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cooperbench.cli.console import echo_renderable, new_table
from cooperbench.entry_points import CONFLICT, PluginInfo

#: Colour of each plugin state on a terminal (the others are shown as they are).
STATE_STYLES = {
    "usable": "green",
    "loaded": "green",
    "unusable": "yellow",
    "disabled": "dim",
    "broken": "red",
    "conflict": "red",
}


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
    """Print ``rows`` (keys ``columns``) under ``headers``, one line per row when piped."""
    from rich.markup import escape

    table = new_table(*headers)
    for row in rows:
        cells = []
        for column in columns:
            text = escape(str(row[column]))
            style = STATE_STYLES.get(str(row[column])) if column == "state" else None
            cells.append(f"[{style}]{text}[/{style}]" if style else text)
        table.add_row(*cells)
    echo_renderable(table)
