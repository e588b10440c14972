"""``cooperbench backends``: what is installed, and whether it works here."""

from __future__ import annotations

import click

from cooperbench.cli.plugin_table import echo_plugin_rows
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
    echo_plugin_rows(rows, ("BACKEND", "DISTRIBUTION", "VERSION", "STATUS", "DETAIL"), as_json)
