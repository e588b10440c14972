"""Fixtures for the Docker backend tests: the engine's API and sandbox helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cooperbench.backend import Backend, get_backend
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import Sandbox

BASE_IMAGE = "cooperbench/base:latest"


@pytest.fixture
def api() -> Iterator[Any]:
    """The Docker engine's low-level API, for inspecting what the backend did."""
    docker = pytest.importorskip("docker")
    client = docker.APIClient(version="auto")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def docker_backend() -> Backend:
    """The ``docker`` backend, found through plugin discovery."""
    return get_backend("docker", PluginManager.discover(disabled=()))


@pytest.fixture
def make_sandbox(docker_backend: Backend) -> Iterator[Callable[..., Sandbox]]:
    """Create sandboxes from the base image; all are terminated after the test."""
    created: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        kwargs.setdefault("timeout", 120)
        sandbox = docker_backend.create_sandbox(kwargs.pop("image", BASE_IMAGE), **kwargs)
        created.append(sandbox)
        return sandbox

    yield make
    for sandbox in created:
        sandbox.terminate()


@pytest.fixture
def container_exists(api: Any) -> Callable[[str], bool]:
    """A check that is True while the engine still knows a container."""
    import docker.errors

    def exists(container_id: str) -> bool:
        try:
            api.inspect_container(container_id)
        except docker.errors.NotFound:
            return False
        return True

    return exists
