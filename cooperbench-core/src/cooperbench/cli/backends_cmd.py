"""``cooperbench backends``: what is installed, whether it works here, and its options."""

from __future__ import annotations

import json

import click

from cooperbench.backend_status import UNUSABLE, USABLE
from cooperbench.cli.plugin_table import echo_table, plugin_row
from cooperbench.entry_points import BROKEN, CONFLICT, DISABLED
from cooperbench.plugin_manager import PluginManager

#: Every word the STATUS column can show.
BACKEND_STATES = (USABLE, UNUSABLE, BROKEN, DISABLED, CONFLICT)


@click.command("backends")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option(
    "--options",
    "options_of",
    metavar="NAME",
    help="List the options of backend NAME (set them with --backend-option KEY=VALUE).",
)
def backends_command(as_json: bool, options_of: str | None) -> None:
    """List discovered backends: distribution, version, health and the hooks they implement."""
    plugins = PluginManager.discover()
    if options_of is not None:
        _echo_options(plugins, options_of, as_json)
        return
    rows = []
    for info in plugins.plugins():
        row = plugin_row(info)
        if info.loaded:
            status = plugins.check_backend(info.name)
            row.update(state=status.state, detail=status.detail)
        row["hooks"] = list(info.hooks)
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    columns = ("name", "distribution", "version", "state", "hooks", "detail")
    headers = ("BACKEND", "DISTRIBUTION", "VERSION", "STATUS", "HOOKS", "DETAIL")
    table = [{**row, "hooks": ",".join(row["hooks"])} for row in rows]
    echo_table(table, columns, headers)


def _echo_options(plugins: PluginManager, backend: str, as_json: bool) -> None:
    declared = plugins.backend_options(backend)
    if as_json:
        click.echo(json.dumps([option.to_json() for option in declared], indent=2))
        return
    if not declared:
        click.echo(f"backend '{backend}' has no options")
        return
    rows = [
        {
            "name": option.name,
            "type": option.type_name,
            "default": _shown(option.to_json()["default"]),
            "help": option.help,
        }
        for option in declared
    ]
    echo_table(rows, ("name", "type", "default", "help"), ("OPTION", "TYPE", "DEFAULT", "HELP"))


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "{}"
    return str(value)
