"""``cooperbench agents``: the installed agent plugins and whether they loaded."""

from __future__ import annotations

import click

from cooperbench.cli.plugin_table import echo_plugin_rows
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
    echo_plugin_rows(rows, ("AGENT", "DISTRIBUTION", "VERSION", "STATE", "DETAIL"), as_json)
