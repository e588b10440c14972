"""``cooperbench cleanup``: remove what killed runs left behind."""

from __future__ import annotations

import click

from cooperbench.errors import BackendUnavailableError
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
        if not plugins.implements(backend, "cleanup_resources"):
            click.echo(f"backend '{backend}' leaves nothing behind to clean up")
            return
        _clean(plugins, backend, dry_run)
        return
    # Not the self-check: a host that cannot run tasks (no pytest, say) may still hold
    # leftovers; a backend whose service is unreachable says so and the others go on.
    chosen = [n for n in plugins.backend_names() if plugins.implements(n, "cleanup_resources")]
    for name in chosen:
        try:
            _clean(plugins, name, dry_run)
        except BackendUnavailableError as exc:
            click.echo(f"skipped {name}: {exc}")
    if not chosen:
        click.echo("no installed backend can clean up")


def _clean(plugins: PluginManager, backend: str, dry_run: bool) -> None:
    lines = plugins.cleanup_resources(backend, dry_run=dry_run)
    for line in lines:
        click.echo(f"{'would remove' if dry_run else 'removed'} {line}")
    outcome = "would be removed" if dry_run else "removed"
    click.echo(f"{len(lines)} leftover resource(s) {outcome} on {backend}")
