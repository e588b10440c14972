"""The stand-in itself: its RPC surface, and that it leaves nothing behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from standin.harness import BASE_IMAGE, ModalStandin, standin_command, standin_env, start_standin

docker = pytest.importorskip("docker")
pytest.importorskip("modal")

pytestmark = pytest.mark.docker

# Creates one sandbox through the SDK in a separate process and prints its id; the
# stand-in under test is not the session's, and the SDK caches its client per process.
CREATE_SANDBOX = f"""
import modal
app = modal.App.lookup("standin-lifecycle", create_if_missing=True)
image = modal.Image.from_registry("{BASE_IMAGE}").entrypoint([])
sb = modal.Sandbox.create(app=app, image=image, timeout=300)
print(sb.object_id)
"""


def owned(api: Any, instance_id: str) -> list[str]:
    """Names of the containers and networks labelled as the instance's."""
    label = {"label": f"modal-standin.instance={instance_id}"}
    containers = [c["Names"][0] for c in api.containers(all=True, filters=label)]
    return containers + [n["Name"] for n in api.networks(filters=label)]


@pytest.fixture
def api() -> Any:
    """The Docker engine's API."""
    client = docker.APIClient(version="auto")
    yield client
    client.close()


def create_sandbox(standin: ModalStandin) -> str:
    """Create a sandbox on ``standin`` from another process; return its id."""
    done = subprocess.run(
        [sys.executable, "-c", CREATE_SANDBOX],
        env=standin.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + standin.log()
    return done.stdout.strip()


def test_every_rpc_has_a_handler() -> None:
    from modal_proto.api_grpc import ModalClientBase
    from modal_proto.task_command_router_grpc import TaskCommandRouterBase
    from standin.control import ControlPlane
    from standin.errors import implemented
    from standin.router import CommandRouter

    assert not ControlPlane.__abstractmethods__
    assert not CommandRouter.__abstractmethods__
    assert set(implemented(ControlPlane)) <= set(ModalClientBase.__abstractmethods__)
    assert {"SandboxCreateV2", "SandboxGetTunnelsV2", "ImageGetOrCreate"} <= set(
        implemented(ControlPlane)
    )
    assert set(implemented(CommandRouter)) <= set(TaskCommandRouterBase.__abstractmethods__)
    assert {"TaskExecStart", "TaskExecStdinWriteStream"} <= set(implemented(CommandRouter))


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_removes_containers_and_network(
    signum: signal.Signals, tmp_path: Path, api: Any
) -> None:
    standin = start_standin(tmp_path)
    try:
        create_sandbox(standin)
        assert len(owned(api, standin.instance_id)) == 2  # the sandbox and the network
    finally:
        standin.process.send_signal(signum)
        assert standin.process.wait(60) == 0, standin.log()
    assert owned(api, standin.instance_id) == []


@pytest.mark.slow
def test_killed_instance_is_reaped(tmp_path: Path, api: Any) -> None:
    standin = start_standin(tmp_path)
    try:
        create_sandbox(standin)
    finally:
        standin.process.kill()
        standin.process.wait(60)
    assert len(owned(api, standin.instance_id)) == 2
    reaped = subprocess.run(
        standin_command("--reap"), env=standin_env(), capture_output=True, text=True, timeout=120
    )
    assert reaped.returncode == 0, reaped.stderr
    assert owned(api, standin.instance_id) == []


def test_live_instance_is_not_reaped(modal_standin: ModalStandin, api: Any) -> None:
    before = owned(api, modal_standin.instance_id)
    reaped = subprocess.run(
        standin_command("--reap"), env=standin_env(), capture_output=True, text=True, timeout=120
    )
    assert reaped.returncode == 0, reaped.stderr
    assert owned(api, modal_standin.instance_id) == before
    assert modal_standin.network in before


def test_ready_file_describes_instance(modal_standin: ModalStandin) -> None:
    ready = json.loads((modal_standin.log_file.parent / "ready.json").read_text())
    assert ready["url"] == modal_standin.url.rstrip("/")
    assert ready["url"].startswith("http://127.0.0.1:")
    assert modal_standin.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
