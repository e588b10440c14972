"""Clear errors instead of SDK tracebacks, and a plugin module that imports no SDK."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cooperbench.backend import Backend
from cooperbench.errors import BackendUnavailableError, SandboxError
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import SandboxRequest
from cooperbench_docker.client import unreachable_error

pytestmark = pytest.mark.docker

NO_DAEMON = "unix:///nonexistent.sock"
ROOT = Path(__file__).resolve().parents[2]


def test_unreachable_daemon_is_backend_unavailable(
    docker_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)
    with pytest.raises(BackendUnavailableError) as raised:
        docker_backend.create_sandbox("cooperbench/base:latest")
    message = str(raised.value)
    assert f"cannot reach the Docker daemon at {NO_DAEMON}" in message
    assert "DOCKER_HOST" in message
    assert "\n" not in message


def test_check_backend_reports_an_unreachable_daemon(
    docker_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)
    status = docker_backend.check()
    assert not status.usable
    assert NO_DAEMON in status.detail


def test_check_backend_reports_a_running_daemon(docker_backend: Backend) -> None:
    status = docker_backend.check()
    assert status.usable, status.detail
    assert "Docker Engine" in status.detail


def test_invalid_docker_host_is_backend_unavailable(
    docker_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "bogus://somewhere")
    with pytest.raises(BackendUnavailableError, match="DOCKER_HOST"):
        docker_backend.create_sandbox("cooperbench/base:latest")


def test_permission_denied_says_to_join_the_docker_group() -> None:
    cause = PermissionError(13, "Permission denied")
    error = unreachable_error("unix:///var/run/docker.sock", cause)
    assert isinstance(error, BackendUnavailableError)
    assert "docker group" in str(error)


def test_daemon_refusal_is_a_one_line_sandbox_error() -> None:
    # More CPUs than any host has, asked for past the option check (as a plugin calling
    # the hook directly would): the daemon rejects the container.
    request = SandboxRequest(image="cooperbench/base:latest", options={"cpus": 100000})
    with pytest.raises(SandboxError) as raised:
        PluginManager.discover(disabled=()).create_sandbox("docker", request)
    assert "\n" not in str(raised.value)
    assert "CPU" in str(raised.value)


def test_importing_the_plugin_does_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "from cooperbench.plugin_manager import PluginManager\n"
        "manager = PluginManager.discover(disabled=())\n"
        "assert 'docker' in manager.backend_names(), manager.plugins()\n"
        "assert 'docker' not in sys.modules, 'plugin discovery imported the docker SDK'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("command", ["eval", "run"])
def test_cli_with_no_daemon_fails_in_one_line_and_writes_nothing(
    tmp_path: Path, command: str
) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(ROOT / "examples" / "logs", logs, ignore=shutil.ignore_patterns("eval*.json"))
    args = ["-n", "gold"] if command == "eval" else ["-n", "fresh", "-s", "flash", "-a", "gold"]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cooperbench.cli.main import main; main()",
            command,
            *args,
            "--backend",
            "docker",
            "--dataset-dir",
            str(ROOT / "examples" / "dataset"),
            "--log-dir",
            str(logs),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DOCKER_HOST": NO_DAEMON},
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: backend 'docker' cannot work here")
    assert "DOCKER_HOST" in lines[0]
    assert not list(logs.rglob("eval.json")) and not (logs / "fresh").exists()
