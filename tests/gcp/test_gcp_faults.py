"""Faults on the gcp backend: a failing, a hanging, a lost and a retried pair among passing
ones, each judged on its own; a task killed at its maximum run duration is a timeout."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_gcp_eval import DEMO_DATASET, DEMO_LOGS, evaluate_patch

from cooperbench.evaluation.api import plan_evaluation
from cooperbench.evaluation.types import EvalRequest

pytestmark = pytest.mark.docker


def requests_of(tmp_path: Path, run: str) -> dict[str, EvalRequest]:
    """The pairs of demo run ``run`` by ``<setting>/<repo>/<task>/f<a>_f<b>``."""
    logs = tmp_path / run
    if not logs.exists():
        shutil.copytree(DEMO_LOGS / run, logs / run, ignore=shutil.ignore_patterns("eval*"))
    plan = plan_evaluation(run, log_dir=logs, dataset_dir=DEMO_DATASET, timeout=120)
    return {
        f"{r.pair.setting}/{r.pair.repo}/{r.pair.task_id}/"
        + "_".join(f"f{f}" for f in r.pair.features): r
        for r in plan.requests
    }


@pytest.fixture
def batch(gcp_env: Any) -> Iterator[Any]:
    """The Batch stand-in, with its faults reset after the test."""
    yield gcp_env.batch
    gcp_env.batch.forget_losses()
    gcp_env.batch.run_duration_cap = None


def test_each_pair_is_judged_on_its_own(batch: Any, tmp_path: Path, hanging_image: str) -> None:
    gold = requests_of(tmp_path, "gold")
    mixed = requests_of(tmp_path, "mixed")
    passing = gold["coop/demo_ledger_task/7/f1_f2"]
    lost = gold["coop/demo_ledger_task/7/f1_f4"]
    retried = gold["coop/demo_ledger_task/7/f2_f3"]
    failing = mixed["coop/demo_textkit_task/0/f1_f2"]
    passing_textkit = gold["coop/demo_textkit_task/0/f1_f2"]
    hanging = attrs.evolve(gold["solo/demo_textkit_task/0/f1_f2"], image=hanging_image, timeout=3)
    requests = [passing, lost, failing, hanging, retried, passing_textkit]
    # Ledger job: task 0 passing, 1 lost on every attempt, 2 lost on its first attempt.
    batch.lose(lambda job, index, attempt: "demo-ledger" in job and index == 1)
    batch.lose(lambda job, index, attempt: "demo-ledger" in job and index == 2 and attempt == 0)
    returned, reported = evaluate_patch(requests, concurrency=3, options={"max_retries": 1})

    assert [r.pair for r in returned] == [r.pair for r in requests]
    by_pair = {r.pair: r for r in returned}
    assert by_pair[passing.pair].status == "passed"
    assert by_pair[passing_textkit.pair].status == "passed"
    # A failing pair is a verdict, not an error.
    assert by_pair[failing.pair].status == "failed"
    assert by_pair[failing.pair].error is None
    # A hanging pair is a failed verdict marked timed out.
    hung = by_pair[hanging.pair]
    assert hung.status == "failed" and hung.error is None and hung.timed_out
    assert all(f.timed_out and 3 <= f.duration_seconds < 30 for f in hung.features)
    # A pair lost to the platform on every attempt is an infrastructure error (retried).
    gone = by_pair[lost.pair]
    assert gone.status == "error" and gone.error_kind == "infrastructure"
    assert "preempted" in (gone.error or "")
    # A pair lost once and retried has the verdict of its last attempt.
    again = by_pair[retried.pair]
    assert again.status == "passed", again.error
    attempts = [h for h in batch.history if "demo-ledger" in h[0] and h[1] == 2]
    assert [h[2] for h in attempts[-2:]] == [0, 1]
    assert sorted(r.pair.key for r in reported) == sorted(r.pair.key for r in requests)


def test_a_task_killed_at_its_maximum_run_duration_is_a_timeout(
    batch: Any, tmp_path: Path, hanging_image: str
) -> None:
    gold = requests_of(tmp_path, "gold")
    hanging = attrs.evolve(gold["coop/demo_textkit_task/0/f1_f2"], image=hanging_image)
    batch.run_duration_cap = 8  # the tests' own 120 s limit is never reached
    (result,), _ = evaluate_patch([hanging], concurrency=1)
    assert result.error is None
    assert result.status == "failed"
    assert result.timed_out
    assert result.apply_status == {"agent1": "applied", "agent2": "applied"}
