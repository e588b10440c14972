"""``cooperbench cleanup --backend modal``: dead runs' sandboxes go, everything else stays."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from cooperbench import labels as cb_labels
from cooperbench.backend import get_backend
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import Sandbox

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("modal_standin")]

IMAGE = "cooperbench/base:latest"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def alive(sandbox_id: str) -> bool:
    """True while Modal lists the sandbox as running in an app of the environment."""
    import modal

    apps = modal.Environment.from_name("cooperbench").apps.list()
    running = {s.object_id for app in apps for s in modal.Sandbox.list(app_id=app.app_id)}
    return sandbox_id in running


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def sandboxes() -> Iterator[dict[str, Sandbox]]:
    """A dead run's sandbox, a live run's sandbox, and one with no cooperbench labels."""
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    run = f"cleanup-{uuid.uuid4().hex[:8]}"
    made = {
        "live": backend.create_sandbox(IMAGE, timeout=300, labels=cb_labels.owner_labels(run=run)),
        "foreign": backend.create_sandbox(IMAGE, timeout=300, labels={"team": "other"}),
    }
    yield made  # the test adds the dead one, whose labels need a dead pid
    for sandbox in made.values():
        sandbox.terminate()


def cleanup(*flags: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [*CLI, "cleanup", "--backend", "modal", *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_cleanup_terminates_only_dead_runs_sandboxes(
    sandboxes: dict[str, Sandbox], dead_pid: int, modal_env: dict[str, str]
) -> None:
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    labels = cb_labels.owner_labels(run="dead-run", purpose="eval")
    labels[cb_labels.OWNER_PID] = str(dead_pid)
    dead = backend.create_sandbox(IMAGE, timeout=300, labels=labels)
    sandboxes["dead"] = dead
    ids = {name: sandbox.id for name, sandbox in sandboxes.items()}

    listed = cleanup("--dry-run", env=modal_env)
    assert f"would remove sandbox {ids['dead']} (run dead-run, eval)" in listed
    assert not any(ids["live"] in line or ids["foreign"] in line for line in listed)
    assert all(alive(sandbox_id) for sandbox_id in ids.values())

    removed = cleanup(env=modal_env)
    assert f"removed sandbox {ids['dead']} (run dead-run, eval)" in removed
    assert not alive(ids["dead"])
    assert alive(ids["live"]) and alive(ids["foreign"])
    # Terminating it again (as its owner would have) is harmless.
    dead.terminate()
    assert f"would remove sandbox {ids['dead']} (run dead-run, eval)" not in cleanup(
        "--dry-run", env=modal_env
    )


def test_cleanup_searches_every_app_of_the_environment(
    dead_pid: int, modal_env: dict[str, str]
) -> None:
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    other = {"app": f"other-{uuid.uuid4().hex[:6]}"}
    labels = cb_labels.owner_labels(run="dead-elsewhere", purpose="agent")
    labels[cb_labels.OWNER_PID] = str(dead_pid)
    dead = backend.create_sandbox(IMAGE, timeout=300, labels=labels, options=other)
    live = backend.create_sandbox(
        IMAGE, timeout=300, labels=cb_labels.owner_labels(run="live-elsewhere"), options=other
    )
    try:
        removed = cleanup(env=modal_env)
        assert f"removed sandbox {dead.id} (run dead-elsewhere, agent)" in removed
        assert not alive(dead.id)
        assert alive(live.id), removed
    finally:
        dead.terminate()
        live.terminate()
