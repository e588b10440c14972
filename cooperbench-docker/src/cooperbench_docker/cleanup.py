"""Removing containers and networks that killed runs left behind.

Only resources labelled ``cooperbench.managed=true`` are considered, and of those only
the ones whose owner process is gone (:func:`cooperbench.labels.owner_is_alive`): a live
run's resources and anything cooperbench did not create are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cooperbench.plugin import labels as cb_labels
from cooperbench_docker.client import connect, docker_errors, explain
from cooperbench_docker.container import remove_container

logger = logging.getLogger(__name__)

_MANAGED_FILTER = {"label": f"{cb_labels.MANAGED}=true"}


def cleanup_leftovers(dry_run: bool = False) -> list[str]:
    """Remove (or with ``dry_run`` only list) leftovers; one line per resource."""
    api = connect()
    try:
        lines = _containers(api, dry_run)
        lines += _networks(api, dry_run)
    finally:
        api.close()
    return lines


def describe(kind: str, name: str, labels: Mapping[str, str]) -> str:
    """``"container 1a2b3c4d5e6f (run exp)"``: what a leftover is and which run owned it."""
    run = labels.get(cb_labels.RUN)
    return f"{kind} {name} ({f'run {run}' if run else 'no run'})"


def _containers(api: Any, dry_run: bool) -> list[str]:
    lines: list[str] = []
    with docker_errors("listing cooperbench containers"):
        found = api.containers(all=True, filters=_MANAGED_FILTER)
    for container in found:
        labels = container.get("Labels") or {}
        if cb_labels.owner_is_alive(labels):
            continue
        container_id = str(container["Id"])
        if not dry_run:
            remove_container(api, container_id)
        lines.append(describe("container", container_id[:12], labels))
    return lines


def _networks(api: Any, dry_run: bool) -> list[str]:
    lines: list[str] = []
    with docker_errors("listing cooperbench networks"):
        found = api.networks(filters=_MANAGED_FILTER)
    for network in found:
        labels = network.get("Labels") or {}
        if cb_labels.owner_is_alive(labels):
            continue
        name = str(network.get("Name") or network["Id"][:12])
        if not dry_run:
            try:
                with docker_errors(f"removing network {name}"):
                    api.remove_network(network["Id"])
            except Exception as exc:  # noqa: BLE001 - e.g. still used by another container
                logger.warning("kept network %s: %s", name, explain(exc))
                continue
        lines.append(describe("network", name, labels))
    return lines
