"""The Modal environment: ``cooperbench`` by default, made on first use; a named one
that does not exist is one line, and is never made."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from modal_cli import assert_one_line, copy_logs, eval_command
from standin.harness import ModalStandin, start_standin, stop_standin

from cooperbench.backend import get_backend
from cooperbench.errors import UsageError
from cooperbench.plugin_manager import PluginManager

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("modal_standin")]

IMAGE = "cooperbench/base:latest"

# Runs against a stand-in that has only the workspace's default environment.
FIRST_USE = textwrap.dedent(
    """
    import modal
    from modal.exception import NotFoundError

    from cooperbench.backend import get_backend
    from cooperbench.plugin_manager import PluginManager

    def exists(name):
        try:
            modal.Environment.from_name(name).hydrate()
            return True
        except NotFoundError:
            return False

    print("before", exists("cooperbench"))
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    sandbox = backend.create_sandbox("{image}", timeout=120)
    try:
        print("after", exists("cooperbench"))
        app = modal.App.lookup("cooperbench", environment_name="cooperbench")
        listed = {{s.object_id for s in modal.Sandbox.list(app_id=app.app_id)}}
        print("listed", sandbox.id in listed)
    finally:
        sandbox.terminate()
    """
)


@pytest.fixture
def fresh_standin(tmp_path: Path) -> Iterator[ModalStandin]:
    """A stand-in of its own, as a new Modal workspace: no ``cooperbench`` environment."""
    standin = start_standin(tmp_path / "standin")
    try:
        yield standin
    finally:
        stop_standin(standin.process)


def environment_exists(name: str) -> bool:
    import modal
    from modal.exception import NotFoundError

    try:
        modal.Environment.from_name(name).hydrate()
    except NotFoundError:
        return False
    return True


def test_first_use_makes_the_cooperbench_environment(fresh_standin: ModalStandin) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_USE.format(image=IMAGE)],
        capture_output=True,
        text=True,
        env=fresh_standin.subprocess_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["before", "False", "after", "True", "listed", "True"]


def test_a_named_environment_that_does_not_exist_is_one_usage_error() -> None:
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    with pytest.raises(UsageError) as raised:
        backend.create_sandbox(IMAGE, timeout=60, options={"environment": "nowhere"})
    message = str(raised.value)
    assert "\n" not in message
    assert "Modal environment 'nowhere' does not exist" in message
    assert "modal environment create nowhere" in message
    assert not environment_exists("nowhere")


def test_a_named_environment_that_does_not_exist_stops_eval_in_one_line(
    tmp_path: Path, modal_env: dict[str, str]
) -> None:
    logs = copy_logs(tmp_path)
    done = subprocess.run(
        eval_command(logs, "--backend-option", "environment=nowhere"),
        capture_output=True,
        text=True,
        env=modal_env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert_one_line(done.stderr, "Modal environment 'nowhere' does not exist")
    assert list(logs.rglob("eval.json")) == []
    assert not environment_exists("nowhere")


def test_an_existing_named_environment_is_used() -> None:
    import modal

    modal.Environment.from_name("elsewhere", create_if_missing=True).hydrate()
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    sandbox = backend.create_sandbox(IMAGE, timeout=60, options={"environment": "elsewhere"})
    try:
        app = modal.App.lookup("cooperbench", environment_name="elsewhere")
        assert sandbox.id in {s.object_id for s in modal.Sandbox.list(app_id=app.app_id)}
    finally:
        sandbox.terminate()
