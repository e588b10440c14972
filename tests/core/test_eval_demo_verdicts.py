"""Every demo pair (gold and bad submissions) gets the verdict expected.json records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, demo_verdicts: Any) -> Path:
    return demo_verdicts.evaluate_all(tmp_path_factory.mktemp("verdicts"), "local")


def test_verdict(evaluated: Path, verdict_key: str, demo_verdicts: Any) -> None:
    demo_verdicts.check(evaluated, verdict_key)


def test_eval_json_keeps_published_fields_and_adds_per_test_detail(
    evaluated: Path, demo_verdicts: Any
) -> None:
    document = demo_verdicts.document(evaluated, "gold/coop/demo_textkit_task/0/f1_f2")
    for field in (
        "repo",
        "task_id",
        "features",
        "setting",
        "apply_status",
        "merge",
        "feature1",
        "feature2",
        "both_passed",
        "error",
        "evaluated_at",
    ):
        assert field in document
    feature = document["feature1"]
    for field in (
        "feature_id",
        "passed",
        "exit_code",
        "tests_passed",
        "tests_failed",
        "tests_total",
        "success",
        "test_results",
        "duration_seconds",
        "test_output",
    ):
        assert field in feature
    assert feature["results_source"] == "junit"
    assert feature["tests_passed"] == feature["tests_total"] > 0
    case = feature["test_results"][0]
    assert set(case) == {"test_name", "status", "duration", "error"}
    assert document["merge"]["diff"].startswith("diff --git")


def test_summary_is_written_for_the_whole_run(evaluated: Path, demo_verdicts: Any) -> None:
    summary = json.loads((evaluated / "gold" / "eval_summary.json").read_text())
    expected = demo_verdicts.expected
    gold_keys = [k for k in expected if k.startswith("gold/")]
    assert summary["total_runs"] == len(gold_keys)
    assert summary["passed"] == sum(expected[k]["both_passed"] for k in gold_keys)
    assert summary["pass_rate"] == round(
        summary["passed"] / (summary["passed"] + summary["failed"]), 4
    )
    assert set(summary["by_repo"]) == {"demo_ledger_task", "demo_textkit_task"}
