"""Terminating Modal sandboxes that killed runs left behind.

Sandboxes are found by their tags (the owner labels every sandbox carries) in every app
of the backend's default environment, ``cooperbench`` (the ``app`` option may name any
app; sandboxes of another ``environment`` are not searched). Only those tagged
``cooperbench.managed=true`` are considered, and of those only the ones whose owner
process is gone (:func:`cooperbench.plugin.owner_is_alive`): a live run's sandboxes and
anything cooperbench did not create are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping

from cooperbench.plugin import CooperbenchError, owner_is_alive
from cooperbench.plugin import labels as cb_labels
from cooperbench_modal.client import ensure_reachable, modal_errors
from cooperbench_modal.options import DEFAULT_ENVIRONMENT


def cleanup_leftovers(dry_run: bool = False, environment: str = DEFAULT_ENVIRONMENT) -> list[str]:
    """Terminate (or with ``dry_run`` only list) leftovers; one line per sandbox."""
    import modal
    from modal import exception as modal_exc

    ensure_reachable()
    try:
        with modal_errors(f"listing the apps of Modal environment {environment!r}"):
            apps = modal.Environment.from_name(environment).apps.list()
    except CooperbenchError as exc:
        if isinstance(exc.__cause__, modal_exc.NotFoundError):
            return []  # no environment, so no sandboxes
        raise
    lines = []
    for app in apps:
        with modal_errors(f"listing the sandboxes of Modal app {app.name or app.app_id!r}"):
            found = list(modal.Sandbox.list(app_id=app.app_id, tags={cb_labels.MANAGED: "true"}))
        for sandbox in found:
            with modal_errors(f"reading the tags of Modal sandbox {sandbox.object_id}"):
                tags = dict(sandbox.get_tags())
            if tags.get(cb_labels.MANAGED) != "true" or owner_is_alive(tags):
                continue
            if not dry_run:
                with modal_errors(f"terminating Modal sandbox {sandbox.object_id}"):
                    sandbox.terminate()
            lines.append(describe(sandbox.object_id, tags))
    return lines


def describe(sandbox_id: str, tags: Mapping[str, str]) -> str:
    """``"sandbox sb-... (run exp, eval)"``: what a leftover is and which run owned it."""
    run = tags.get(cb_labels.RUN)
    purpose = tags.get(cb_labels.PURPOSE)
    owner = f"run {run}" if run else "no run"
    return f"sandbox {sandbox_id} ({owner}{f', {purpose}' if purpose else ''})"
