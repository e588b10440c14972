"""``cooperbench agents``: the installed agent plugins and whether they loaded."""

from __future__ import annotations

import json

import click

from cooperbench.plugins import PluginManager


@click.command("agents")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def agents_command(as_json: bool) -> None:
    """List discovered agents with their distribution, version and state."""
    rows = [
        {
            "name": info.name,
            "distribution": info.dist_name or "",
            "version": info.dist_version or "",
            "state": info.state,
            "detail": info.error or info.value,
        }
        for info in PluginManager.discover().agent_plugins()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ("AGENT", "DISTRIBUTION", "VERSION", "STATE", "DETAIL")
    table = [headers] + [
        (r["name"], r["distribution"], r["version"], r["state"], r["detail"]) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        click.echo("  ".join(cells).rstrip())
