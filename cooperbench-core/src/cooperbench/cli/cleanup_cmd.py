"""``cooperbench cleanup``: remove what killed runs left behind."""

from __future__ import annotations

import click

from cooperbench.plugin_manager import PluginManager


@click.command("cleanup")
@click.option(
    "--backend",
    help="Backend to clean up [default: every installed backend that can clean up].",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def cleanup_command(backend: str | None, dry_run: bool) -> None:
    """Remove leftover sandboxes and services of runs whose process is gone.

    Resources of live runs, and anything cooperbench did not create, are never touched.
    """
    plugins = PluginManager.discover()
    if backend is not None:
        plugins.require_backend(backend)
        chosen = [backend]
    else:
        chosen = [
            name
            for name in plugins.backend_names()
            if plugins.implements(name, "cleanup_resources") and plugins.check_backend(name).usable
        ]
    for name in chosen:
        if not plugins.implements(name, "cleanup_resources"):
            click.echo(f"backend '{name}' leaves nothing behind to clean up")
            continue
        plugins.require_usable_backend(name)
        lines = plugins.cleanup_resources(name, dry_run=dry_run)
        for line in lines:
            click.echo(f"{'would remove' if dry_run else 'removed'} {line}")
        outcome = "would be removed" if dry_run else "removed"
        click.echo(f"{len(lines)} leftover resource(s) {outcome} on {name}")
    if not chosen:
        click.echo("no installed backend that can clean up is usable here")
