"""``cooperbench eval`` from the command line: output, errors, interruption and resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    code = "from cooperbench.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600, **kwargs
    )


def test_eval_prints_summary_table_and_json(demo_logs: Path, demo_dataset: Path) -> None:
    done = cli(
        "eval",
        "-n",
        "gold",
        "-t",
        "0",
        "-f",
        "1,2",
        "--log-dir",
        str(demo_logs),
        "--dataset-dir",
        str(demo_dataset),
        "-c",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert "2 pair(s) to evaluate" in done.stderr
    assert "overall" in done.stdout and "pass rate" in done.stdout
    again = cli(
        "eval",
        "-n",
        "gold",
        "-t",
        "0",
        "-f",
        "1,2",
        "--log-dir",
        str(demo_logs),
        "--dataset-dir",
        str(demo_dataset),
        "--json",
    )
    assert "0 pair(s) to evaluate" in again.stderr and "2 already evaluated" in again.stderr
    assert json.loads(again.stdout)["passed"] == 2


def test_user_mistakes_are_one_line(demo_logs: Path, demo_dataset: Path, tmp_path: Path) -> None:
    cases = [
        (
            "eval",
            "-n",
            "gold",
            "--log-dir",
            str(demo_logs),
            "--dataset-dir",
            str(tmp_path / "none"),
        ),
        ("eval", "-n", "nope", "--log-dir", str(demo_logs), "--dataset-dir", str(demo_dataset)),
        (
            "eval",
            "-n",
            "gold",
            "-f",
            "1",
            "--log-dir",
            str(demo_logs),
            "--dataset-dir",
            str(demo_dataset),
        ),
        ("eval", "-n", "gold", "--backend", "modal", "--log-dir", str(demo_logs)),
        (
            "eval",
            "-n",
            "gold",
            "-s",
            "nosuch",
            "--log-dir",
            str(demo_logs),
            "--dataset-dir",
            str(demo_dataset),
        ),
        ("eval", "-n", "gold", "-c", "0"),
    ]
    for args in cases:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, (
            args,
            done.stderr,
        )


def _slow_marker() -> str:
    # A duration no other process on the machine uses, so the test finds only its own.
    return f"sleep {random.randint(100_000, 999_999)}"


def test_interrupt_leaves_no_partial_files_and_rerun_resumes(
    demo_logs: Path, dataset_copy: Path
) -> None:
    runner = dataset_copy / "demo_textkit_task" / "task0" / "runner.sh"
    original = runner.read_text()
    marker = _slow_marker()
    runner.write_text(f"#!/bin/sh\n{marker}\n")
    args = [
        "eval",
        "-n",
        "gold",
        "-t",
        "0",
        "--log-dir",
        str(demo_logs),
        "--dataset-dir",
        str(dataset_copy),
        "-c",
        "3",
    ]
    code = "from cooperbench.cli.main import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _sleepers(marker):
        time.sleep(0.2)
    assert _sleepers(marker), "the slow runners never started"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    pair_files = [p.name for p in (demo_logs / "gold").rglob("*") if p.is_file()]
    assert "eval.json" not in pair_files
    assert not [name for name in pair_files if name.endswith(".tmp")]
    time.sleep(1)
    assert not _sleepers(marker), "a runner kept running after the interrupt"

    runner.write_text(original)
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert "3 pair(s) to evaluate" in done.stderr


def _sleepers(marker: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if marker in line]


def test_sigterm_is_handled_like_ctrl_c(demo_logs: Path, dataset_copy: Path) -> None:
    runner = dataset_copy / "demo_ledger_task" / "task7" / "runner.sh"
    marker = _slow_marker()
    runner.write_text(f"#!/bin/sh\n{marker}\n")
    code = "from cooperbench.cli.main import main; main()"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "eval",
            "-n",
            "gold",
            "-t",
            "7",
            "-f",
            "1,2",
            "--log-dir",
            str(demo_logs),
            "--dataset-dir",
            str(dataset_copy),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _sleepers(marker):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    time.sleep(1)
    assert not _sleepers(marker)
    assert not list((demo_logs / "gold").rglob("eval.json"))
