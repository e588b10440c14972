"""``cooperbench cleanup`` on Docker: dead runs' leftovers go, everything else stays."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cooperbench import labels as cb_labels
from cooperbench.plugin_manager import PluginManager

pytestmark = pytest.mark.docker

IMAGE = "cooperbench/base:latest"


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def resources(api: Any) -> Iterator[Callable[..., str]]:
    """Create labelled containers and networks; whatever is left is removed afterwards."""
    containers: list[str] = []
    networks: list[str] = []

    def make(kind: str, labels: dict[str, str] | None) -> str:
        if kind == "network":
            name = f"cooperbench-test-{uuid.uuid4().hex[:8]}"
            networks.append(api.create_network(name, labels=labels or {})["Id"])
            return name
        created = api.create_container(
            IMAGE, entrypoint=["sleep", "120"], labels=labels or {}, detach=True
        )
        api.start(created["Id"])
        containers.append(created["Id"])
        return str(created["Id"])

    yield make
    # The test removes some of them itself.
    for container_id in containers:
        with contextlib.suppress(Exception):
            api.remove_container(container_id, force=True)
    for network_id in networks:
        with contextlib.suppress(Exception):
            api.remove_network(network_id)


def _ids(api: Any) -> set[str]:
    return {c["Id"] for c in api.containers(all=True)}


def _network_names(api: Any) -> set[str]:
    return {n["Name"] for n in api.networks()}


def test_cleanup_removes_only_dead_owners_resources(
    api: Any, resources: Callable[..., str], dead_pid: int
) -> None:
    run = f"cleanup-{uuid.uuid4().hex[:6]}"
    dead_labels = {**cb_labels.owner_labels(run=run), cb_labels.OWNER_PID: str(dead_pid)}
    live_labels = cb_labels.owner_labels(run=run)
    dead = resources("container", dead_labels)
    live = resources("container", live_labels)
    unlabelled = resources("container", None)
    dead_net = resources("network", dead_labels)
    live_net = resources("network", live_labels)
    plugins = PluginManager.discover(disabled=())

    preview = plugins.cleanup_resources("docker", dry_run=True)
    assert f"container {dead[:12]} (run {run})" in preview
    assert f"network {dead_net} (run {run})" in preview
    assert dead in _ids(api), "a dry run removed something"

    removed = plugins.cleanup_resources("docker")
    assert f"container {dead[:12]} (run {run})" in removed
    assert f"network {dead_net} (run {run})" in removed
    assert not any(live[:12] in line or unlabelled[:12] in line for line in removed)
    remaining = _ids(api)
    assert dead not in remaining
    assert {live, unlabelled} <= remaining
    names = _network_names(api)
    assert dead_net not in names
    assert live_net in names


def test_sandboxes_of_this_process_survive_cleanup(api: Any, make_sandbox: Any) -> None:
    sandbox = make_sandbox(labels={cb_labels.RUN: "alive"})
    PluginManager.discover(disabled=()).cleanup_resources("docker")
    assert sandbox.exec("true").ok
