"""Evaluation on the gcp backend against the stand-ins: the demo verdicts, one job per
image, results as tasks end, and pairs of two images interleaved in the request order."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cooperbench.evaluation.api import plan_evaluation
from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
from cooperbench.plugin_manager import PluginManager

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
DEMO_LOGS = ROOT / "examples" / "logs"
FAST = {"poll_interval": 0.2}


def gold_requests(tmp_path: Path) -> list[EvalRequest]:
    """The gold run's pairs, from a fresh copy of the demo logs."""
    logs = tmp_path / "logs"
    shutil.copytree(DEMO_LOGS / "gold", logs / "gold", ignore=shutil.ignore_patterns("eval*"))
    plan = plan_evaluation("gold", log_dir=logs, dataset_dir=DEMO_DATASET, timeout=120)
    return list(plan.requests)


def evaluate_patch(
    requests: Sequence[EvalRequest], concurrency: int = 4, **kwargs: Any
) -> tuple[list[EvalResult], list[EvalResult]]:
    """Run the gcp ``evaluate_patch`` hook; return (returned, reported) results."""
    plugins = PluginManager.discover(disabled=())
    reported: list[EvalResult] = []
    lock = threading.Lock()

    def report(result: EvalResult) -> None:
        with lock:
            reported.append(result)
        on_report = kwargs.get("on_report")
        if on_report is not None:
            on_report(result)

    context = EvalContext(
        create_sandbox=lambda request: pytest.fail("batch evaluation creates no sandbox"),
        concurrency=concurrency,
        report=report,
        labels={"cooperbench.run": "gcp-test"},
        sandbox_options={**FAST, **kwargs.get("options", {})},
    )
    returned = list(plugins.evaluate_patch("gcp", requests, context))
    return returned, reported


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory,
    demo_verdicts: Any,
    demo_images: dict[str, str],
    standins: Any,
) -> Path:
    """Every demo run evaluated on gcp through ``cooperbench.evaluate``."""
    patch = pytest.MonkeyPatch()
    for name, value in standins.env.items():
        patch.setenv(name, value)
    folder = tmp_path_factory.mktemp("gcp-verdicts")
    patch.setenv("COOPERBENCH_CONFIG_FILE", str(folder / "no-config.json"))
    try:
        return Path(demo_verdicts.evaluate_all(folder, "gcp", FAST))
    finally:
        patch.undo()


def test_gcp_verdict_matches_expected(
    evaluated: Path, verdict_key: str, demo_verdicts: Any
) -> None:
    demo_verdicts.check(evaluated, verdict_key)


def test_gcp_eval_json_says_where_and_how(evaluated: Path, demo_verdicts: Any) -> None:
    document = demo_verdicts.document(evaluated, "gold/coop/demo_textkit_task/0/f1_f2")
    assert document["backend"] == "gcp"
    assert document["feature1"]["results_source"] == "junit"
    assert document["feature1"]["tests_passed"] == document["feature1"]["tests_total"] > 0
    assert document["merge"]["diff"].startswith("diff --git")
    assert document["timings"]["tests"] >= document["feature1"]["duration_seconds"] > 0


def test_one_job_per_image_with_one_task_per_pair(gcp_env: Any, tmp_path: Path) -> None:
    requests = gold_requests(tmp_path)
    before = set(gcp_env.batch.created)
    returned, reported = evaluate_patch(requests, concurrency=3)
    jobs = [job for name, job in gcp_env.batch.created.items() if name not in before]
    images = [job.task_groups[0].task_spec.runnables[0].container.image_uri for job in jobs]
    assert sorted(images) == sorted({request.image for request in requests})
    for job in jobs:
        group = job.task_groups[0]
        pairs = [r for r in requests if r.image == group.task_spec.runnables[0].container.image_uri]
        assert group.task_count == len(pairs)
        assert group.parallelism == min(3, len(pairs))
        assert job.labels["cooperbench-run"] == "gcp-test"
        assert job.labels["cooperbench-managed"] == "true"
    assert [result.pair for result in returned] == [request.pair for request in requests]
    assert sorted(r.pair.key for r in reported) == sorted(r.pair.key for r in requests)
    assert [result.error for result in returned if result.error] == []


def test_results_arrive_while_the_job_still_runs(gcp_env: Any, tmp_path: Path) -> None:
    ledger = [
        r for r in gold_requests(tmp_path) if "ledger" in r.image and r.pair.setting == "coop"
    ]
    assert len(ledger) >= 3
    states: list[set[str]] = []

    def on_report(result: EvalResult) -> None:
        names = gcp_env.batch.live_jobs()
        states.append({gcp_env.batch._job(name).state.name for name in names})

    # One task at a time: the first pair's result must not wait for the others.
    evaluate_patch(ledger, concurrency=1, on_report=on_report)
    assert len(states) == len(ledger)
    assert "RUNNING" in states[0], f"first result came when the job was {states[0]}"


def test_interleaved_images_map_each_task_to_its_own_pair(
    gcp_env: Any, tmp_path: Path, demo_verdicts: Any
) -> None:
    requests = gold_requests(tmp_path)
    textkit = [r for r in requests if "textkit" in r.image]
    ledger = [r for r in requests if "ledger" in r.image]
    interleaved = [r for pair in zip(ledger, textkit, strict=False) for r in pair]
    interleaved += ledger[len(textkit) :] + textkit[len(ledger) :]
    returned, _ = evaluate_patch(interleaved, concurrency=2)
    assert [result.pair for result in returned] == [request.pair for request in interleaved]
    for result in returned:
        key = f"gold/{result.pair.setting}/{result.pair.repo}/{result.pair.task_id}/" + "_".join(
            f"f{f}" for f in result.pair.features
        )
        expected = demo_verdicts.expected[key]
        assert result.error is None, result.error
        assert result.both_passed == expected["both_passed"], key
        assert [f.passed for f in result.features] == [
            expected["feature1_passed"],
            expected["feature2_passed"],
        ], key
