"""Every demo pair (gold and bad submissions) gets the verdict expected.json records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cooperbench import evaluate
from cooperbench.plugins import PluginManager

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = json.loads((ROOT / "examples" / "logs" / "expected.json").read_text())


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    logs = tmp_path_factory.mktemp("verdicts") / "logs"
    shutil.copytree(ROOT / "examples" / "logs", logs, ignore=shutil.ignore_patterns("eval*.json"))
    plugins = PluginManager.discover(disabled=())
    for run in sorted({key.split("/")[0] for key in EXPECTED}):
        evaluate(
            run,
            backend="local",
            concurrency=2,
            log_dir=logs,
            dataset_dir=ROOT / "examples" / "dataset",
            plugins=plugins,
        )
    return logs


def eval_document(logs: Path, key: str) -> dict[str, Any]:
    run, setting, repo, task, pair = key.split("/")
    if run == "flat":
        path = logs / run / f"task_{task}_feature_{pair[1:].replace('_f', '_')}" / "eval.json"
    else:
        path = logs / run / setting / repo / task / pair / "eval.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_verdict(evaluated: Path, key: str) -> None:
    expected = EXPECTED[key]
    document = eval_document(evaluated, key)
    merge = document["merge"] or {}
    assert document["error"] is None
    assert document["apply_status"] == expected["apply_status"]
    assert merge.get("status") == expected["merge_status"]
    assert merge.get("strategy") == expected["merge_strategy"]
    assert document["feature1"]["passed"] == expected["feature1_passed"]
    assert document["feature2"]["passed"] == expected["feature2_passed"]
    assert document["both_passed"] == expected["both_passed"]


def test_eval_json_keeps_published_fields_and_adds_per_test_detail(evaluated: Path) -> None:
    document = eval_document(evaluated, "gold/coop/demo_textkit_task/0/f1_f2")
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


def test_summary_is_written_for_the_whole_run(evaluated: Path) -> None:
    summary = json.loads((evaluated / "gold" / "eval_summary.json").read_text())
    gold_keys = [k for k in EXPECTED if k.startswith("gold/")]
    assert summary["total_runs"] == len(gold_keys)
    assert summary["passed"] == sum(EXPECTED[k]["both_passed"] for k in gold_keys)
    assert summary["pass_rate"] == round(
        summary["passed"] / (summary["passed"] + summary["failed"]), 4
    )
    assert set(summary["by_repo"]) == {"demo_ledger_task", "demo_textkit_task"}
