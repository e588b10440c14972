"""Evaluation on the Modal backend: the demo verdicts, `-c N` as a cap on live sandboxes,
and interrupts that leave no sandbox behind.

Task images are built from the demo Dockerfiles on the local base image (the stand-in
serves images from the local engine, as Modal would pull them from a registry), under
names of their own chosen through ``COOPERBENCH_IMAGE_TEMPLATE``/``--image-template``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("modal_standin")]

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
DEMO_LOGS = ROOT / "examples" / "logs"
BASE_IMAGE = "cooperbench/base:bookworm"
TEMPLATE = "cooperbench-test/{repo_slug}-modal:{task_id}"
SLOW_TEMPLATE = "cooperbench-test/{repo_slug}-modal-slow:{task_id}"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def build_task_images(dataset: Path, template: str) -> list[str]:
    """Build every task image of ``dataset`` under ``template`` in the local engine."""
    import docker

    from cooperbench.dataset import Dataset

    api = docker.APIClient(version="auto")
    built = []
    try:
        for task in Dataset(dataset).tasks():
            tag = task.image(template)
            for event in api.build(
                path=str(task.path),
                tag=tag,
                buildargs={"BASE_IMAGE": BASE_IMAGE},
                rm=True,
                forcerm=True,
                decode=True,
            ):
                assert "error" not in event, event
            built.append(tag)
    finally:
        api.close()
    return built


def remove_images(tags: list[str]) -> None:
    for tag in tags:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


@pytest.fixture(scope="module")
def demo_images() -> str:
    """The demo task images, built once; returns their image template."""
    build_task_images(DEMO_DATASET, TEMPLATE)
    return TEMPLATE


def live_sandboxes(run: str) -> list[str]:
    """Ids of the running Modal sandboxes whose tags name ``run``."""
    import modal

    from cooperbench_modal.client import lookup_app

    app = lookup_app("cooperbench", "cooperbench")
    found = modal.Sandbox.list(app_id=app.app_id, tags={"cooperbench.run": run})
    return [sandbox.object_id for sandbox in found]


# -- (a) the demo verdicts ----------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory, demo_verdicts: Any, demo_images: str
) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("modal-verdicts")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COOPERBENCH_IMAGE_TEMPLATE", demo_images)
        yield demo_verdicts.evaluate_all(folder, "modal")


def test_modal_verdict_matches_expected(
    evaluated: Path, verdict_key: str, demo_verdicts: Any
) -> None:
    demo_verdicts.check(evaluated, verdict_key)


def test_modal_eval_records_backend_and_where_the_time_went(
    evaluated: Path, demo_verdicts: Any
) -> None:
    document = demo_verdicts.document(evaluated, "gold/coop/demo_ledger_task/7/f1_f2")
    assert document["backend"] == "modal"
    assert document["image"] == "cooperbench-test/demo-ledger-modal:7"
    timings = document["timings"]
    assert {"create", "sandbox_start", "patch_setup", "tests", "teardown"} <= set(timings)
    assert all(seconds >= 0 for seconds in timings.values())


# -- (b) -c N: at most N sandboxes alive --------------------------------------------------


def copy_gold_run(folder: Path, prefix: str) -> tuple[Path, str]:
    """A private copy of the gold run under a unique run name."""
    run = f"{prefix}-{uuid.uuid4().hex[:8]}"
    logs = folder / "logs"
    shutil.copytree(DEMO_LOGS / "gold", logs / run, ignore=shutil.ignore_patterns("eval*.json"))
    return logs, run


def most_alive_during(run: str, action: Any) -> int:
    """The most sandboxes of ``run`` seen alive at once while ``action()`` runs."""
    most, stop = 0, threading.Event()

    def sample() -> None:
        nonlocal most
        while not stop.is_set():
            most = max(most, len(live_sandboxes(run)))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        action()
    finally:
        stop.set()
        sampler.join(30)
    return most


@pytest.mark.parametrize(("start_ahead", "allowed"), [(False, 1), (True, 2)])
def test_concurrency_is_the_most_sandboxes_alive_unless_started_ahead(
    tmp_path: Path, demo_images: str, start_ahead: bool, allowed: int
) -> None:
    from cooperbench import evaluate

    logs, run = copy_gold_run(tmp_path, "cap")

    def evaluate_ledger() -> None:
        summary = evaluate(
            run,
            backend="modal",
            concurrency=1,
            repo="demo_ledger_task",
            log_dir=logs,
            dataset_dir=DEMO_DATASET,
            image_template=demo_images,
            backend_options={"start_ahead": start_ahead},
        )
        assert summary["incomplete"] == []

    most = most_alive_during(run, evaluate_ledger)
    # Off: never two at once. On: the next pair's sandbox overlaps the current one.
    assert most == allowed
    assert live_sandboxes(run) == []


# -- (c) interrupting `cooperbench eval --backend modal` ----------------------------------


@pytest.fixture(scope="module")
def slow_dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A dataset copy whose runner sleeps a duration no other process uses, and its
    images; yields the dataset and the sleep command to look for."""
    seconds = 7000 + uuid.uuid4().int % 2000
    marker = f"sleep {seconds}"
    dataset = tmp_path_factory.mktemp("slow") / "dataset"
    shutil.copytree(DEMO_DATASET, dataset)
    for runner in dataset.glob("*/task*/runner.sh"):
        text = runner.read_text()
        text = text.replace("python3 -m pytest", f"{marker}\npython3 -m pytest", 1)
        assert marker in text
        runner.write_text(text)
    tags = build_task_images(dataset, SLOW_TEMPLATE)
    try:
        yield dataset, marker
    finally:
        remove_images(tags)


def sleeping_containers(marker: str) -> int:
    """How many of the stand-in's sandbox containers are inside the slow runner's sleep."""
    listed = subprocess.run(
        ["docker", "ps", "-q", "--filter", "label=modal-standin.sandbox_id"],
        capture_output=True,
        text=True,
        check=True,
    )
    count = 0
    for container in listed.stdout.split():
        top = subprocess.run(["docker", "top", container], capture_output=True, text=True)
        if top.returncode == 0 and marker in top.stdout:
            count += 1
    return count


def interrupt_while_sleeping(
    args: list[str], env: dict[str, str], marker: str, sig: signal.Signals, running: int
) -> subprocess.CompletedProcess[str]:
    """Start ``args``, wait until ``running`` sandboxes sleep in their tests, send ``sig``."""
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 300
        while sleeping_containers(marker) < running:
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


@pytest.mark.parametrize(("sig", "pairs"), [(signal.SIGINT, 2), (signal.SIGTERM, 1)])
def test_interrupted_eval_leaves_no_sandbox(
    tmp_path: Path,
    slow_dataset: tuple[Path, str],
    modal_env: dict[str, str],
    sig: signal.Signals,
    pairs: int,
) -> None:
    dataset, marker = slow_dataset
    logs, run = copy_gold_run(tmp_path, "interrupt")
    args = [
        *CLI,
        "eval",
        "-n",
        run,
        "--backend",
        "modal",
        "--log-dir",
        str(logs),
        "--dataset-dir",
        str(dataset),
        "--repo",
        "demo_ledger_task",
        "-c",
        str(pairs),
        "--image-template",
        SLOW_TEMPLATE,
    ]
    interrupted = interrupt_while_sleeping(args, modal_env, marker, sig, running=pairs)
    assert interrupted.returncode == 130, interrupted.stderr
    assert "interrupted" in interrupted.stderr
    assert sorted(logs.rglob("eval.json")) == []
    # Modal no longer lists them, and no container of theirs is left in the engine.
    assert live_sandboxes(run) == []
    deadline = time.monotonic() + 30
    while sleeping_containers(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sleeping_containers(marker) == 0


def test_pair_whose_sandbox_never_starts_is_an_infrastructure_error(
    tmp_path: Path, modal_env: dict[str, str]
) -> None:
    logs, run = copy_gold_run(tmp_path, "noimage")
    done = subprocess.run(
        [
            *CLI,
            "eval",
            "-n",
            run,
            "--backend",
            "modal",
            "--log-dir",
            str(logs),
            "--dataset-dir",
            str(DEMO_DATASET),
            "--repo",
            "demo_textkit_task",
            "-f",
            "1,2",
            "--image-template",
            "cooperbench-test/no-such-image-{repo_slug}:{task_id}",
        ],
        capture_output=True,
        text=True,
        env=modal_env,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    pair = logs / run / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    verdict = json.loads((pair / "eval.json").read_text())
    assert verdict["status"] == "error"
    assert verdict["error_kind"] == "infrastructure"
    assert "cannot be used on Modal" in verdict["error"]
    assert "\n" not in verdict["error"]
    assert os.path.exists(logs / run / "eval_summary.json")
