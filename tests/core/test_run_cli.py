"""`cooperbench run` and `cooperbench agents` as a user runs them: errors and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from cooperbench.cli.main import main; main()", *args]


def processes_with(needle: str, *, in_env: bool = False) -> list[int]:
    """Pids whose command line (or, with ``in_env``, environment) contains ``needle``.

    With ``in_env`` only ``sleep 120`` processes count (not their ``sh`` and
    ``timeout`` parents), so two of them mean both agents are working.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            data = (entry / "environ").read_bytes() if in_env else cmdline
        except OSError:
            continue
        if in_env and cmdline != b"sleep\x00120\x00":
            continue
        if needle.encode() in data:
            found.append(int(entry.name))
    return found


def test_unknown_agent_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        cli("run", "-a", "nope", "--dataset-dir", str(DATASET), "--log-dir", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: unknown agent 'nope'") and "gold" in lines[0]
    assert not any(tmp_path.iterdir())


def test_agents_lists_the_builtins() -> None:
    done = subprocess.run(cli("agents", "--json"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    for name in ("gold", "command"):
        assert rows[name]["state"] == "loaded"
        assert rows[name]["distribution"] == "cooperbench-core"


def test_cli_run_prints_the_eval_table(tmp_path: Path) -> None:
    done = subprocess.run(
        cli(
            "run",
            "-t",
            "0",
            "-f",
            "1,2",
            "-c",
            "2",
            "--dataset-dir",
            str(DATASET),
            "--log-dir",
            str(tmp_path),
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "overall" in done.stdout and "100.0%" in done.stdout
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("gold-coop-")  # generated name
    assert (run_dir / "coop" / "demo_textkit_task" / "0" / "f1_f2" / "eval.json").is_file()


def test_interrupt_tears_everything_down(tmp_path: Path) -> None:
    marker = f"interrupt-{uuid.uuid4().hex[:8]}"  # reaches the agents as COOPERBENCH_MODEL
    process = subprocess.Popen(
        cli(
            "run",
            "-n",
            "stop",
            "-t",
            "0",
            "-f",
            "1,2",
            "-a",
            "command",
            "-m",
            marker,
            "--agent-command",
            "sleep 120",
            "--dataset-dir",
            str(DATASET),
            "--log-dir",
            str(tmp_path),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(processes_with(marker, in_env=True)) < 2:  # both agents' sleeps
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the agents never started"
            time.sleep(0.1)
        run_id = json.loads((tmp_path / "stop" / "config.json").read_text())["run_id"]
        assert processes_with(f"cooperbench-redis-{run_id}")  # its Redis is up meanwhile
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    pair = tmp_path / "stop" / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    assert not (pair / "result.json").exists()
    assert processes_with(marker, in_env=True) == []
    assert processes_with(f"cooperbench-redis-{run_id}") == []
    assert os.path.isdir(tmp_path / "stop")
