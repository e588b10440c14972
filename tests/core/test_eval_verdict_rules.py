"""Timeouts are failures, errors are only the harness's, and the eval exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cooperbench import evaluate
from cooperbench.evaluation.api import plan_evaluation
from cooperbench.plugin_manager import PluginManager

PLUGINS = PluginManager.discover(disabled=())
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def _edit_runners(dataset: Path, old: str, new: str) -> None:
    for runner in dataset.glob("*/task*/runner.sh"):
        text = runner.read_text()
        assert old in text
        runner.write_text(text.replace(old, new, 1))


def test_a_timed_out_feature_fails_counts_and_is_retried_only_on_request(
    demo_logs: Path, dataset_copy: Path
) -> None:
    _edit_runners(dataset_copy, "python3 -m pytest", "sleep 30; python3 -m pytest")
    common = dict(
        backend="local", log_dir=demo_logs, dataset_dir=dataset_copy, plugins=PLUGINS, task=0
    )
    summary = evaluate("gold", features=(1, 2), timeout=1, **common)
    assert summary["errors"] == 0 and summary["failed"] == 2
    assert (summary["timed_out"], summary["suspicious"]) == (2, 0)
    document = json.loads((demo_logs / "gold/coop/demo_textkit_task/0/f1_f2/eval.json").read_text())
    assert document["status"] == "failed" and document["timed_out"] is True
    assert document["feature1"]["timed_out"] is True
    assert "timeout" in document["feature1"]["reason"]
    plan = plan_evaluation("gold", log_dir=demo_logs, dataset_dir=dataset_copy, task=0)
    assert {r.key for r in plan.requests} == {"demo_textkit_task/0/1,3"}  # never evaluated
    retry = plan_evaluation(
        "gold", log_dir=demo_logs, dataset_dir=dataset_copy, task=0, retry=("timeouts",)
    )
    assert len(retry.requests) == 3


def test_a_missing_test_runner_is_an_error_not_a_failure(
    demo_logs: Path, dataset_copy: Path
) -> None:
    # -I -S: an interpreter without site-packages, so without pytest.
    _edit_runners(dataset_copy, "python3 -m pytest", "python3 -I -S -m pytest")
    summary = evaluate(
        "gold",
        backend="local",
        log_dir=demo_logs,
        dataset_dir=dataset_copy,
        plugins=PLUGINS,
        task=0,
    )
    assert summary["errors"] == 3 and summary["failed"] == 0
    document = json.loads((demo_logs / "gold/coop/demo_textkit_task/0/f1_f2/eval.json").read_text())
    assert document["error_kind"] == "infrastructure"
    assert "never started" in document["error"]


def test_agents_infrastructure_error_makes_the_pair_an_error(
    demo_logs: Path, demo_dataset: Path
) -> None:
    folder = demo_logs / "gold/coop/demo_textkit_task/0/f1_f2"
    result = json.loads((folder / "result.json").read_text())
    result["agents"]["agent2"]["error_kind"] = "infrastructure"
    (folder / "result.json").write_text(json.dumps(result))
    solo = demo_logs / "gold/solo/demo_textkit_task/0/f1_f2"
    solo_result = json.loads((solo / "result.json").read_text())
    solo_result["agent"]["error_kind"] = "infrastructure"
    (solo / "result.json").write_text(json.dumps(solo_result))
    summary = evaluate(
        "gold",
        backend="local",
        log_dir=demo_logs,
        dataset_dir=demo_dataset,
        plugins=PLUGINS,
        task=0,
    )
    assert summary["errors"] == 2 and summary["passed"] == 1
    document = json.loads((folder / "eval.json").read_text())
    assert document["status"] == "error" and "agent2" in document["error"]
    assert len(summary["incomplete"]) == 2


def test_eval_exits_incomplete_after_writing_everything(
    demo_logs: Path, dataset_copy: Path
) -> None:
    _edit_runners(dataset_copy, "python3 -m pytest", "python3 -I -S -m pytest")
    args = [*CLI, "eval", "-n", "gold", "-t", "0", "--log-dir", str(demo_logs)]
    done = subprocess.run(
        [*args, "--dataset-dir", str(dataset_copy)], capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: 3 selected pair(s)")
    assert (demo_logs / "gold" / "eval_summary.json").is_file()
    fine = subprocess.run(
        [*args, "--dataset-dir", str(Path(__file__).parents[2] / "examples" / "dataset")],
        capture_output=True,
        text=True,
    )
    assert fine.returncode == 0, fine.stderr
