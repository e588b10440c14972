"""``cooperbench agents``: the installed agent plugins and whether they loaded."""

from __future__ import annotations

import json

import click

from cooperbench.agents.registry import AgentRegistry
from cooperbench.cli.plugin_table import echo_table, plugin_row


@click.command("agents")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def agents_command(as_json: bool) -> None:
    """List discovered agents with their distribution, version and state."""
    rows = []
    for info in AgentRegistry.discover().infos():
        row = plugin_row(info)
        row["detail"] = row["detail"] or info.value
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    columns = ("name", "distribution", "version", "state", "detail")
    echo_table(rows, columns, ("AGENT", "DISTRIBUTION", "VERSION", "STATE", "DETAIL"))
