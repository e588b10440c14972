"""The in-sandbox wrapper and kill script of cooperbench.exec_kill, run with this machine's sh."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

from cooperbench.plugin import EXEC_TOKEN_VAR, KILL_SCRIPT, exec_wrapper

# A command that leaves a child in its process group and one in a session of its own,
# then waits: each writes its pid so the test can check that none survives.
_SPAWNER = "sleep 300 & echo $! > {dir}/group; setsid sleep 300 & echo $! > {dir}/session; wait"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_for(path: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def test_kill_script_kills_the_command_and_every_process_it_started(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    command = subprocess.Popen(
        ["sh", "-c", exec_wrapper(), "exec", token, "sh", "-c", _SPAWNER.format(dir=tmp_path)],
        env={**os.environ, EXEC_TOKEN_VAR: token},
        start_new_session=True,  # as an exec'd command is (the runtime calls setsid)
    )
    children = [_wait_for(tmp_path / "group"), _wait_for(tmp_path / "session")]
    assert all(_alive(pid) for pid in children)

    killer = subprocess.run(["sh", "-c", KILL_SCRIPT, "kill", token], timeout=30, check=False)

    assert killer.returncode == 0
    assert command.wait(timeout=10) != 0
    assert not any(_alive(pid) for pid in children)
    assert not Path(f"/tmp/.cooperbench-exec-{token}.pid").exists()


def test_wrapper_runs_programs_not_builtins_and_keeps_shell_statuses(tmp_path: Path) -> None:
    def run(*argv: str, enter: str | None = None) -> subprocess.CompletedProcess[str]:
        script = exec_wrapper(enter_workdir=enter is not None)
        prefix = ["token"] if enter is None else ["token", enter]
        return subprocess.run(
            ["sh", "-c", script, "exec", *prefix, *argv], capture_output=True, text=True
        )

    assert run("true").returncode == 0
    assert run("sh", "-c", "exit 7").returncode == 7
    assert run("exit", "3").returncode == 127  # a program named exit, not the builtin
    assert run("no-such-program-here").returncode == 127
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("")
    assert run(str(not_executable)).returncode == 126
    assert run("pwd", enter=str(tmp_path)).stdout.strip() == str(tmp_path)
    missing = run("pwd", enter=str(tmp_path / "absent"))
    assert (missing.returncode, missing.stderr) == (125, "token\n")
