"""Local sandboxes: a minimal environment, and no process outliving its command or run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cooperbench import get_backend
from cooperbench.plugin_manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


@pytest.fixture
def local() -> Any:
    return get_backend("local", PluginManager.discover(disabled=()))


def processes_with(marker: str, exact: bool = False) -> list[int]:
    """Pids of live processes whose command line contains (or ``exact``ly is) ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if (cmdline.strip() == marker if exact else marker in cmdline) and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for_none(marker: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_commands_get_a_minimal_environment(local: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    with local.create_sandbox("ignored", env={"FROM_REQUEST": "1"}) as sandbox:
        result = sandbox.exec("env", env={"FROM_EXEC": "2"})
        env = dict(line.split("=", 1) for line in result.stdout_read().splitlines())
        assert "OPENAI_API_KEY" not in env
        assert env["FROM_REQUEST"] == "1" and env["FROM_EXEC"] == "2"
        assert env["HOME"] == os.environ["HOME"]
        assert env["LANG"] == "C.UTF-8"
        assert env["TMPDIR"].startswith(env["SANDBOX_ROOT"])
        assert env["PATH"].endswith(os.environ["PATH"])
        expected = {"PATH", "HOME", "LANG", "TMPDIR", "SANDBOX_ROOT", "FROM_REQUEST", "FROM_EXEC"}
        tokens = {"COOPERBENCH_EXEC_TOKEN", "COOPERBENCH_SANDBOX_TOKEN"}
        assert set(env) - {"PWD", "SHLVL", "_"} == expected | tokens
        made = sandbox.exec("python3", "-c", "import tempfile; print(tempfile.mkdtemp())")
        assert made.stdout_read().startswith(env["SANDBOX_ROOT"])


def test_timeout_kills_processes_that_left_the_group(local: Any) -> None:
    marker = f"60{uuid.uuid4().int % 10**6:06d}"
    with local.create_sandbox("ignored") as sandbox:
        result = sandbox.exec("sh", "-c", f"setsid sleep {marker} & sleep 30", timeout=1)
        assert result.timed_out
        assert wait_for_none(marker, 5) == []


def test_terminate_kills_processes_that_left_the_group(local: Any) -> None:
    marker = f"61{uuid.uuid4().int % 10**6:06d}"
    sandbox = local.create_sandbox("ignored")
    started = sandbox.exec("sh", "-c", f"setsid sleep {marker} >/dev/null 2>&1 &")
    assert started.ok and processes_with(marker)
    sandbox.terminate()
    assert wait_for_none(marker, 5) == []


def test_lifetime_ends_processes_that_left_the_group_while_the_sandbox_is_held(
    local: Any,
) -> None:
    marker = f"63{uuid.uuid4().int % 10**6:06d}"
    with local.create_sandbox("ignored", timeout=3) as sandbox:
        started = sandbox.exec("sh", "-c", f"setsid sleep {marker} >/dev/null 2>&1 &")
        assert started.ok and processes_with(marker)
        # Still held, past its lifetime: the escaped process is gone all the same.
        assert wait_for_none(marker, 15) == []
        assert sandbox.exec("true").timed_out  # and the sandbox takes no more work


def test_killed_harness_leaves_no_process_of_its_run(tmp_path: Path) -> None:
    marker = f"62{uuid.uuid4().int % 10**6:06d}"
    command = [*CLI, "run", "-n", "killed", "-s", "flash", "--setting", "coop", "-a", "command"]
    command += ["--agent-command", f"sleep {marker}", "--backend", "local", "--no-auto-eval"]
    command += ["--dataset-dir", str(DATASET), "--log-dir", str(tmp_path / "logs")]
    harness = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        sleeper = f"sleep {marker}"
        while len(processes_with(sleeper, exact=True)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(processes_with(sleeper, exact=True)) == 2, "the agents never started"
    finally:
        os.kill(harness.pid, signal.SIGKILL)
        harness.wait()
    assert wait_for_none(marker, 10) == []


def test_a_file_just_written_runs_while_other_sandboxes_spawn_commands(local: Any) -> None:
    # A child forked while a file was open for writing keeps it open until it execs,
    # and running the file meanwhile fails with "Text file busy". Agents run the tools
    # installed a moment before while other pairs' commands start; that must never fail.
    sandboxes = [local.create_sandbox("ignored") for _ in range(6)]
    stop = threading.Event()
    failures: list[str] = []

    def spawn(sandbox: Any) -> None:
        while not stop.is_set():
            sandbox.exec("true")

    def install_and_run(sandbox: Any, name: str) -> None:
        for _ in range(150):
            sandbox.write_file(name, b"#!/bin/sh\nexit 0\n")
            sandbox.exec("chmod", "755", name)
            done = sandbox.exec(f"./{name}")
            if not done.ok:
                failures.append(done.stderr_read().strip())

    spawners = [threading.Thread(target=spawn, args=(s,)) for s in sandboxes[4:]]
    writers = [
        threading.Thread(target=install_and_run, args=(s, f"tool{i}"))
        for i, s in enumerate(sandboxes[:4])
    ]
    try:
        for thread in spawners + writers:
            thread.start()
        for thread in writers:
            thread.join()
    finally:
        stop.set()
        for thread in spawners:
            thread.join()
        for sandbox in sandboxes:
            sandbox.terminate()
    assert failures == []
