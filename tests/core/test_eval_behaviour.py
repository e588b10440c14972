"""Evaluation behaviour: filters, resume, force, summaries, large patches, forged output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cooperbench import evaluate, run_patch_test
from cooperbench.evaluation.api import plan_evaluation
from cooperbench.plugin_manager import PluginManager

PLUGINS = PluginManager.discover(disabled=())


def keys(plan) -> set[str]:
    return {f"{r.pair.setting}:{r.key}" for r in plan.requests}


def test_filters_select_pairs(demo_logs: Path, demo_dataset: Path) -> None:
    def plan(**filters):
        return plan_evaluation("gold", log_dir=demo_logs, dataset_dir=demo_dataset, **filters)

    everything = keys(plan())
    assert len(everything) == 10
    assert keys(plan(task=0)) == {k for k in everything if "/0/" in k}
    assert keys(plan(task=0))  # task 0 exists and is not ignored
    assert keys(plan(repo="demo_ledger_task")) == {k for k in everything if "ledger" in k}
    assert keys(plan(features=(1, 2))) == {k for k in everything if k.endswith("/1,2")}
    flash = keys(plan(subset="flash"))
    assert flash == {"coop:demo_textkit_task/0/1,2", "solo:demo_textkit_task/0/1,2"}
    lite = keys(plan(subset="lite"))
    assert "coop:demo_textkit_task/0/1,3" in lite and "coop:demo_ledger_task/7/3,4" in lite


def test_incremental_then_force_and_cumulative_summary(demo_logs: Path, demo_dataset: Path) -> None:
    common = dict(
        backend="local", concurrency=2, log_dir=demo_logs, dataset_dir=demo_dataset, plugins=PLUGINS
    )
    first = evaluate("gold", task=0, **common)
    assert first["passed"] + first["failed"] == 3
    assert first["skipped"] == 7  # the ledger pairs have no verdict yet
    second = evaluate("gold", task=7, **common)
    assert second["passed"] + second["failed"] == 10 and second["skipped"] == 0
    on_disk = json.loads((demo_logs / "gold" / "eval_summary.json").read_text())
    assert on_disk["total_runs"] == 10

    seen = []
    evaluate("gold", **common, on_plan=lambda plan: seen.append(len(plan.requests)))
    assert seen == [0]
    evaluate(
        "gold", task=0, force=True, **common, on_plan=lambda plan: seen.append(len(plan.requests))
    )
    assert seen == [0, 3]


def test_eval_json_records_the_phases(demo_logs: Path, demo_dataset: Path) -> None:
    evaluate(
        "gold",
        task=0,
        features=(1, 3),
        log_dir=demo_logs,
        dataset_dir=demo_dataset,
        plugins=PLUGINS,
    )
    pair = demo_logs / "gold" / "coop" / "demo_textkit_task" / "0" / "f1_f3"
    document = json.loads((pair / "eval.json").read_text())
    timings = document["timings"]
    assert set(timings) == {"sandbox_start", "patch_setup", "tests", "teardown"}
    assert all(seconds >= 0 for seconds in timings.values())
    # eval.json rounds each figure to the millisecond.
    assert timings["tests"] >= document["feature1"]["duration_seconds"] - 0.001
    # The merged diff still comes back whole (it travels on the prepare step's output).
    assert document["merge"]["diff"].startswith("diff --git")
    assert document["merge"]["diff"].endswith("\n")


def _big_patch(gold: str, megabytes: int = 2) -> str:
    line = "x" * 99 + "\n"
    count = megabytes * 1024 * 1024 // len(line)
    body = "".join("+" + line for _ in range(count))
    blob = (
        "diff --git a/data/blob.txt b/data/blob.txt\nnew file mode 100644\n"
        f"--- /dev/null\n+++ b/data/blob.txt\n@@ -0,0 +1,{count} @@\n{body}"
    )
    return gold + blob


def test_two_megabyte_patch(demo_dataset: Path) -> None:
    gold = (demo_dataset / "demo_textkit_task" / "task0" / "feature1" / "feature.patch").read_text()
    patch = _big_patch(gold)
    assert len(patch) > 2_000_000
    result = run_patch_test(
        "demo_textkit_task", 0, 1, patch, backend="local", dataset_dir=demo_dataset, plugins=PLUGINS
    )
    assert result["apply_status"] == "applied"
    assert result["passed"] is True


def test_run_patch_test_reports_failures(demo_dataset: Path) -> None:
    result = run_patch_test(
        "demo_textkit_task", 0, 1, "", backend="local", dataset_dir=demo_dataset, plugins=PLUGINS
    )
    assert result["apply_status"] == "skipped"
    assert result["passed"] is False and result["tests_failed"] > 0


def test_printed_pass_lines_cannot_forge_a_pass(dataset_copy: Path) -> None:
    task = dataset_copy / "demo_textkit_task" / "task0"
    runner = task / "runner.sh"
    # A runner that ignores pytest's exit status and prints a pass line.
    runner.write_text(
        runner.read_text().replace("exit", ": exit")
        + '\necho "===== 99 passed in 0.01s ====="\nexit 0\n'
    )
    result = run_patch_test(
        "demo_textkit_task", 0, 1, "", backend="local", dataset_dir=dataset_copy, plugins=PLUGINS
    )
    assert result["exit_code"] == 0
    assert result["results_source"] == "junit"
    assert result["tests_failed"] > 0
    assert result["passed"] is False


def test_infrastructure_errors_are_distinct_and_retried(
    demo_logs: Path, dataset_copy: Path
) -> None:
    # Without its source folder the local backend cannot build the task's workspace.
    subprocess.run(
        ["rm", "-rf", str(dataset_copy / "demo_textkit_task" / "task0" / "repo")], check=True
    )
    common = dict(
        backend="local", log_dir=demo_logs, dataset_dir=dataset_copy, plugins=PLUGINS, task=0
    )
    summary = evaluate("gold", **common)
    assert summary["errors"] == 3 and summary["failed"] == 0
    document = json.loads((demo_logs / "gold/coop/demo_textkit_task/0/f1_f2/eval.json").read_text())
    assert document["error_kind"] == "infrastructure"
    assert document["status"] == "error"
    assert "sandbox did not start" in document["error"]
    plan = plan_evaluation("gold", log_dir=demo_logs, dataset_dir=dataset_copy, task=0)
    assert len(plan.requests) == 3  # errors are evaluated again without --force


def test_unknown_run_and_missing_dataset_are_clear(demo_logs: Path, tmp_path: Path) -> None:
    from cooperbench.errors import DatasetError, LogsError

    with pytest.raises(LogsError, match=r"no run 'nope'.*gold"):
        plan_evaluation("nope", log_dir=demo_logs, dataset_dir=tmp_path)
    with pytest.raises(DatasetError, match="--dataset-dir"):
        plan_evaluation("gold", log_dir=demo_logs, dataset_dir=tmp_path / "missing")


def test_merged_diff_is_recorded_whole_when_the_output_cap_cuts_it(
    demo_logs: Path, demo_dataset: Path
) -> None:
    import attrs

    from cooperbench.evaluation.api import plan_evaluation
    from cooperbench.plugin import (
        EvalContext,
        LocalSandbox,
        eval_sandbox_request,
        evaluate_pair,
    )

    plan = plan_evaluation(
        "gold",
        log_dir=demo_logs,
        dataset_dir=demo_dataset,
        repo="demo_ledger_task",
        features=(1, 2),
    )
    [request] = [r for r in plan.requests if r.pair.setting == "coop"]
    context = EvalContext(create_sandbox=LocalSandbox.create)
    diffs = []
    for limit in (1024, 16 * 1024 * 1024):
        sandbox_request = attrs.evolve(eval_sandbox_request(request, context), output_limit=limit)
        with LocalSandbox.create(sandbox_request) as sandbox:
            result = evaluate_pair(sandbox, request)
        assert result.merge is not None and result.merge.status == "clean"
        diffs.append(result.merge.diff)
    assert len(diffs[1]) > 1024
    assert diffs[0] == diffs[1]
