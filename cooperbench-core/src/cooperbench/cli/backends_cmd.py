"""``cooperbench backends``: what is installed, and whether it works here."""

from __future__ import annotations

import json

import click

from cooperbench.plugins import PluginManager


@click.command("backends")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def backends_command(as_json: bool) -> None:
    """List discovered backends with their distribution, version and health."""
    plugins = PluginManager.discover()
    rows = []
    for info in plugins.plugins():
        if info.loaded:
            status = plugins.check_backend(info.name)
            state = "usable" if status.usable else "unusable"
            detail = status.detail
        else:
            state, detail = info.state, info.error or ""
        rows.append(
            {
                "name": info.name,
                "distribution": info.dist_name or "",
                "version": info.dist_version or "",
                "state": state,
                "detail": detail,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ("BACKEND", "DISTRIBUTION", "VERSION", "STATUS", "DETAIL")
    table = [headers] + [
        (r["name"], r["distribution"], r["version"], r["state"], r["detail"]) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        click.echo("  ".join(cells).rstrip())
