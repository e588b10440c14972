"""Local-backend behaviour beyond the shared contract: tasks, path mapping, pipes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from cooperbench import get_backend
from cooperbench.errors import SandboxError, SandboxTerminatedError
from cooperbench.plugin_manager import PluginManager


@pytest.fixture
def local():
    return get_backend("local", PluginManager.discover(disabled=()))


def make_task(tmp_path: Path) -> Path:
    task = tmp_path / "demo_task" / "task0"
    (task / "repo" / "pkg").mkdir(parents=True)
    (task / "repo" / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (task / "runner.sh").write_text('#!/bin/sh\necho "runner in $SANDBOX_ROOT" "$@"\n')
    return task


def test_task_is_materialized_with_a_base_commit(local, tmp_path: Path) -> None:
    with local.create_sandbox("ignored", task_dir=make_task(tmp_path)) as sandbox:
        log = sandbox.exec("git", "log", "--format=%s", cwd="/workspace/repo")
        assert log.stdout_read() == "base\n"
        status = sandbox.exec("git", "status", "--porcelain", cwd="/workspace/repo")
        assert status.ok and status.stdout_read() == ""
        assert sandbox.read_file("/workspace/repo/pkg/__init__.py") == b"VALUE = 1\n"
        runner = sandbox.exec("runner.sh", "a.patch")
        assert runner.ok and runner.stdout_read().endswith("a.patch\n")


def test_paths_in_arguments_and_env_map_to_the_private_root(local) -> None:
    with local.create_sandbox("ignored") as sandbox:
        sandbox.write_file("/patches/p.diff", "patch")
        result = sandbox.exec(
            "sh",
            "-c",
            'cat /patches/p.diff; printf " %s" "$OPTS"',
            env={"OPTS": "--junitxml=/tmp/cooperbench/j.xml -q"},
        )
        assert result.stdout_read().startswith("patch --junitxml=")
        assert sandbox.root.as_posix() in result.stdout_read()
        # Host paths outside the sandbox's own directories are left alone.
        assert sandbox.exec("test", "-d", "/usr").ok


def test_private_root_is_removed_on_terminate(local) -> None:
    sandbox = local.create_sandbox("ignored")
    root = sandbox.root
    assert root.is_dir()
    sandbox.terminate()
    assert not root.exists()


def test_task_without_source_is_a_clear_error(local, tmp_path: Path) -> None:
    task = tmp_path / "x_task" / "task3"
    task.mkdir(parents=True)
    with pytest.raises(SandboxError, match="no repo/ folder"):
        local.create_sandbox("ignored", task_dir=task)


def test_commands_started_while_terminating_do_not_outlive_the_sandbox(local) -> None:
    seconds = str(7000 + uuid.uuid4().int % 2000)  # a duration no other process sleeps
    sandbox = local.create_sandbox("ignored", timeout=120)
    refused = []

    def keep_starting() -> None:
        while True:
            try:
                sandbox.exec("sleep", seconds, timeout=60)
            except SandboxTerminatedError:
                refused.append(True)
                return

    threads = [threading.Thread(target=keep_starting) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    sandbox.terminate()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert len(refused) == 4
    time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", f"sleep {seconds}"], capture_output=True, text=True)
    assert left.stdout.strip() == ""


def test_output_printed_before_a_timeout_is_kept(local) -> None:
    with local.create_sandbox("ignored") as sandbox:
        result = sandbox.exec("sh", "-c", "echo before; echo oops >&2; sleep 60", timeout=1)
    assert result.timed_out
    assert (result.stdout_read(), result.stderr_read()) == ("before\n", "oops\n")


def test_a_process_holding_the_pipes_does_not_hang_the_call(local) -> None:
    # A descendant in its own session survives the kill of the process group and keeps
    # the output pipes open: the call gives up on them after the drain period.
    with local.create_sandbox("ignored") as sandbox:
        script = "setsid sleep 60 & echo $! > /tmp/cooperbench/held.pid; echo started"
        started = time.monotonic()
        result = sandbox.exec("sh", "-c", script, timeout=1)
        elapsed = time.monotonic() - started
        held = int(sandbox.read_file("/tmp/cooperbench/held.pid"))
    with contextlib.suppress(ProcessLookupError):
        os.kill(held, signal.SIGKILL)
    assert result.timed_out
    assert result.stdout_read() == "started\n"
    assert elapsed < 15, f"the call took {elapsed:.1f}s"
