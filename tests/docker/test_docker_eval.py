"""Evaluation on the Docker backend: the demo verdicts, and interrupted runs.

Task images are built from the demo Dockerfiles on the local base image, so no
registry is needed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
DEMO_LOGS = ROOT / "examples" / "logs"
BASE_IMAGE = "cooperbench/base:bookworm"
BUILD_ARGS = {"BASE_IMAGE": BASE_IMAGE}
SLOW_TEMPLATE = "cooperbench-test/{repo_slug}-slow:{task_id}"
SLOW_REPOSITORIES = ("cooperbench-test/demo-textkit-slow", "cooperbench-test/demo-ledger-slow")
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


# -- (a) the demo verdicts ----------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, demo_verdicts: Any) -> Path:
    folder = tmp_path_factory.mktemp("docker-verdicts")
    return demo_verdicts.evaluate_all(folder, "docker", {"build_args": BUILD_ARGS})


def test_docker_verdict_matches_expected(
    evaluated: Path, verdict_key: str, demo_verdicts: Any
) -> None:
    demo_verdicts.check(evaluated, verdict_key)


def test_docker_eval_records_junit_results_and_merge_diff(
    evaluated: Path, demo_verdicts: Any
) -> None:
    document = demo_verdicts.document(evaluated, "gold/coop/demo_textkit_task/0/f1_f2")
    assert document["feature1"]["results_source"] == "junit"
    assert document["feature1"]["tests_passed"] == document["feature1"]["tests_total"] > 0
    assert document["merge"]["diff"].startswith("diff --git")


def test_docker_eval_records_where_the_time_went(evaluated: Path, demo_verdicts: Any) -> None:
    document = demo_verdicts.document(evaluated, "gold/coop/demo_ledger_task/7/f1_f2")
    timings = document["timings"]
    assert set(timings) == {"image", "sandbox_start", "patch_setup", "tests", "teardown"}
    assert all(seconds >= 0 for seconds in timings.values())
    run_time = document["feature1"]["duration_seconds"] + document["feature2"]["duration_seconds"]
    assert timings["tests"] >= run_time - 0.002  # eval.json rounds each figure to 1 ms


# -- (b) interrupting `cooperbench eval --backend docker` ---------------------------------


def remove_slow_images() -> None:
    for repository in SLOW_REPOSITORIES:
        listed = subprocess.run(
            ["docker", "images", "-q", repository], capture_output=True, text=True, check=True
        )
        for image_id in sorted(set(listed.stdout.split())):
            subprocess.run(["docker", "rmi", "-f", image_id], capture_output=True, check=False)


@pytest.fixture(scope="module")
def slow_dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A dataset copy whose runner sleeps a duration no other process uses.

    Yields the dataset and the sleep command to look for; the slow images are built
    afresh (a stale one would sleep another duration) and removed afterwards.
    """
    seconds = 7000 + uuid.uuid4().int % 2000
    marker = f"sleep {seconds}"
    dataset = tmp_path_factory.mktemp("slow") / "dataset"
    shutil.copytree(DEMO_DATASET, dataset)
    for runner in dataset.glob("*/task*/runner.sh"):
        text = runner.read_text()
        text = text.replace("python3 -m pytest", f"{marker}\npython3 -m pytest", 1)
        assert marker in text
        runner.write_text(text)
    remove_slow_images()
    try:
        yield dataset, marker
    finally:
        remove_slow_images()


def run_copy(tmp_path: Path) -> tuple[Path, str]:
    """A private copy of the gold run under a unique run name."""
    run = f"interrupt-{uuid.uuid4().hex[:8]}"
    logs = tmp_path / "logs"
    shutil.copytree(DEMO_LOGS / "gold", logs / run, ignore=shutil.ignore_patterns("eval*.json"))
    return logs, run


def eval_args(run: str, logs: Path, dataset: Path, *extra: str) -> list[str]:
    return [
        *CLI,
        "eval",
        "-n",
        run,
        "--backend",
        "docker",
        "--log-dir",
        str(logs),
        "--dataset-dir",
        str(dataset),
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        *extra,
    ]


def run_containers(run: str) -> list[str]:
    listed = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "-q",
            "--filter",
            "label=cooperbench.managed=true",
            "--filter",
            f"label=cooperbench.run={run}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def sleeping_containers(run: str, marker: str) -> int:
    """How many containers of ``run`` are inside the slow runner's sleep."""
    count = 0
    for container in run_containers(run):
        top = subprocess.run(["docker", "top", container], capture_output=True, text=True)
        if top.returncode == 0 and marker in top.stdout:
            count += 1
    return count


def interrupt_while_running(
    args: list[str], run: str, marker: str, sig: signal.Signals, running: int
) -> subprocess.CompletedProcess[str]:
    """Start ``args``, wait until ``running`` pairs sleep in their tests, send ``sig``."""
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 600  # includes building the slow image
        while sleeping_containers(run, marker) < running:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the pairs never reached their test runs"
            time.sleep(0.5)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def eval_files(logs: Path) -> list[Path]:
    return sorted(logs.rglob("eval.json"))


def test_sigint_stops_the_run_and_the_rerun_evaluates_the_remaining_pairs(
    tmp_path: Path, slow_dataset: tuple[Path, str], demo_verdicts: Any
) -> None:
    dataset, marker = slow_dataset
    logs, run = run_copy(tmp_path)
    select = ("--repo", "demo_ledger_task")
    # One pair already has a verdict before the interrupted run.
    first = subprocess.run(
        eval_args(run, logs, DEMO_DATASET, *select, "-f", "1,2"), capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    done_before = eval_files(logs)
    expected = demo_verdicts.expected
    ledger = sorted(k for k in expected if k.startswith("gold/") and "/demo_ledger_task/" in k)
    assert 1 <= len(done_before) < len(ledger)
    saved = [path.read_bytes() for path in done_before]
    summary = logs / run / "eval_summary.json"
    saved_summary = summary.read_bytes()

    slow = eval_args(run, logs, dataset, *select, "-c", "2", "--image-template", SLOW_TEMPLATE)
    interrupted = interrupt_while_running(slow, run, marker, signal.SIGINT, running=2)

    assert interrupted.returncode == 130, interrupted.stderr
    assert "interrupted" in interrupted.stderr
    assert eval_files(logs) == done_before
    assert [path.read_bytes() for path in done_before] == saved
    assert summary.read_bytes() == saved_summary
    assert run_containers(run) == []

    rerun = subprocess.run(
        eval_args(run, logs, DEMO_DATASET, *select, "-c", "2"), text=True, capture_output=True
    )
    assert rerun.returncode == 0, rerun.stderr
    remaining = len(ledger) - len(done_before)
    expected_plan = f"{remaining} pair(s) to evaluate on docker, {len(done_before)} already"
    assert expected_plan in rerun.stderr
    assert [path.read_bytes() for path in done_before] == saved
    assert len(eval_files(logs)) == len(ledger)
    view = as_gold(logs, run)
    for key in ledger:
        demo_verdicts.check(view, key)
    assert run_containers(run) == []


def as_gold(logs: Path, run: str) -> Path:
    """A logs folder where ``gold`` names the copied run, as the demo verdict keys say."""
    view = logs.parent / "as-gold"
    view.mkdir(exist_ok=True)
    link = view / "gold"
    if not link.exists():
        link.symlink_to(logs / run, target_is_directory=True)
    return view


def test_sigterm_stops_a_single_pair_and_leaves_nothing(
    tmp_path: Path, slow_dataset: tuple[Path, str]
) -> None:
    dataset, marker = slow_dataset
    logs, run = run_copy(tmp_path)
    slow = eval_args(
        run,
        logs,
        dataset,
        "--repo",
        "demo_textkit_task",
        "-f",
        "1,2",
        "--image-template",
        SLOW_TEMPLATE,
    )
    interrupted = interrupt_while_running(slow, run, marker, signal.SIGTERM, running=1)

    assert interrupted.returncode == 130, interrupted.stderr
    assert eval_files(logs) == []
    assert not (logs / run / "eval_summary.json").exists()
    assert run_containers(run) == []
