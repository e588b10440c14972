"""``cooperbench cleanup``: remove what killed runs left behind."""

from __future__ import annotations

import click

from cooperbench.plugins import PluginManager


@click.command("cleanup")
@click.option("--backend", default="docker", show_default=True, help="Backend to clean up.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def cleanup_command(backend: str, dry_run: bool) -> None:
    """Remove leftover sandboxes and services of runs whose process is gone.

    Resources of live runs, and anything cooperbench did not create, are never touched.
    """
    plugins = PluginManager.discover()
    lines = plugins.cleanup_resources(backend, dry_run=dry_run)
    for line in lines:
        click.echo(f"{'would remove' if dry_run else 'removed'} {line}")
    outcome = "would be removed" if dry_run else "removed"
    click.echo(f"{len(lines)} leftover resource(s) {outcome} on {backend}")
