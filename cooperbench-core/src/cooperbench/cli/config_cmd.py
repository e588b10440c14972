"""``cooperbench config NAME``: a backend's setup wizard."""

from __future__ import annotations

import sys

import click

from cooperbench.backend_options import parse_assignments
from cooperbench.plugin_manager import PluginManager


@click.command("config")
@click.argument("backend")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting to use without asking (repeatable), e.g. --set project=my-project.",
)
@click.option(
    "--yes",
    "non_interactive",
    is_flag=True,
    help="Ask nothing: use the --set values, then the current or default ones.",
)
def config_command(backend: str, assignments: tuple[str, ...], non_interactive: bool) -> None:
    """Set BACKEND up for this user (credentials, project, ...) and save its settings.

    Asks for what it needs, offering defaults, unless --yes is given or the input is not
    a terminal; every question has a --set KEY=VALUE so scripts and CI can answer it.
    """
    plugins = PluginManager.discover()
    plugins.require_backend(backend)
    settings = parse_assignments(assignments, "--set")
    interactive = not non_interactive and sys.stdin.isatty()
    written = plugins.configure_backend(backend, settings, interactive=interactive)
    click.echo(f"saved the {backend} settings to {written}")
