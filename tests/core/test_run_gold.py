"""`cooperbench run` with the gold agent on the demo dataset: layout, messaging, eval, resume."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cooperbench import run
from cooperbench.plugin_manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
TEXTKIT = "demo_textkit_task"
LEDGER = "demo_ledger_task"
RESULT_FIELDS = {
    "repo",
    "task_id",
    "features",
    "setting",
    "run_id",
    "run_name",
    "agent_framework",
    "model",
    "started_at",
    "ended_at",
    "duration_seconds",
    "total_cost",
    "total_steps",
    "messages_sent",
    "log_dir",
}
AGENT_FIELDS = {
    "feature_id",
    "status",
    "cost",
    "steps",
    "input_tokens",
    "output_tokens",
    "patch_lines",
    "error",
}


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def changed_lines(patch: str) -> list[str]:
    """The added and removed lines of a diff: what a patch does, without its context."""
    return [
        line
        for line in patch.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture(scope="module")
def coop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Two invocations of one coop run with messaging: textkit 1,2 then ledger 3,4."""
    logs = tmp_path_factory.mktemp("gold") / "logs"
    plugins = PluginManager.discover(disabled=())
    first = run(
        "demo",
        task=0,
        features=[1, 2],
        concurrency=2,
        eval_concurrency=2,
        dataset_dir=DATASET,
        log_dir=logs,
        plugins=plugins,
    )
    second = run(
        "demo",
        task=7,
        features=[3, 4],
        concurrency=2,
        eval_concurrency=2,
        dataset_dir=DATASET,
        log_dir=logs,
        plugins=plugins,
    )
    return logs / "demo", [first, second]


def test_coop_pair_has_the_published_layout_and_result_schema(coop: tuple[Path, Any]) -> None:
    run_dir, _ = coop
    pair = run_dir / "coop" / TEXTKIT / "0" / "f1_f2"
    names = {p.name for p in pair.iterdir()}
    assert {
        "result.json",
        "conversation.json",
        "agent1.patch",
        "agent2.patch",
        "agent1_traj.json",
        "agent2_traj.json",
        "eval.json",
    } <= names
    result = load(pair / "result.json")
    assert set(result) >= RESULT_FIELDS
    assert result["setting"] == "coop" and result["features"] == [1, 2]
    assert result["agent_framework"] == "gold" and result["run_name"] == "demo"
    assert set(result["agents"]) == {"agent1", "agent2"}
    for agent_id, feature_id in (("agent1", 1), ("agent2", 2)):
        record = result["agents"][agent_id]
        assert set(record) >= AGENT_FIELDS
        assert record["feature_id"] == feature_id
        assert record["status"] == "Submitted" and record["error"] is None
        assert record["patch_lines"] == len(
            (pair / f"agent{feature_id}.patch").read_text().splitlines()
        )
    assert result["messages_sent"] == 2
    assert (run_dir / "config.json").is_file()


def test_gold_patches_come_from_the_sandbox_and_match_the_reference(coop: tuple[Path, Any]) -> None:
    run_dir, _ = coop
    pair = run_dir / "coop" / TEXTKIT / "0" / "f1_f2"
    for feature_id in (1, 2):
        produced = (pair / f"agent{feature_id}.patch").read_text()
        gold = (DATASET / TEXTKIT / "task0" / f"feature{feature_id}" / "feature.patch").read_text()
        assert produced.startswith("diff --git")
        assert changed_lines(produced) == changed_lines(gold)
        # Real sandbox output: git's index line names the base blob, the dataset's may not.
        assert re.search(r"^index [0-9a-f]+\.\.[0-9a-f]+", produced, re.MULTILINE)


def test_conversation_holds_the_file_announcements(coop: tuple[Path, Any]) -> None:
    run_dir, _ = coop
    conversation = load(run_dir / "coop" / TEXTKIT / "0" / "f1_f2" / "conversation.json")
    assert sorted((m["from"], m["to"], m["feature_id"]) for m in conversation) == [
        ("agent1", "agent2", 1),
        ("agent2", "agent1", 2),
    ]
    assert [m["timestamp"] for m in conversation] == sorted(m["timestamp"] for m in conversation)
    by_sender = {m["from"]: m["message"] for m in conversation}
    assert "textkit/core.py" in by_sender["agent1"]
    assert "textkit/stats.py" in by_sender["agent2"]
    # Each agent read the other's announcement before finishing.
    trajectory = load(run_dir / "coop" / TEXTKIT / "0" / "f1_f2" / "agent1_traj.json")
    heard = [e for e in trajectory["trajectory"] if e["type"] == "message_received"]
    assert [e["from"] for e in heard] == ["agent2"]


def test_auto_eval_verdicts_and_summaries(coop: tuple[Path, Any]) -> None:
    run_dir, (first, second) = coop
    clean = load(run_dir / "coop" / TEXTKIT / "0" / "f1_f2" / "eval.json")
    broken = load(run_dir / "coop" / LEDGER / "7" / "f3_f4" / "eval.json")
    assert clean["both_passed"] is True and clean["merge"]["status"] == "clean"
    assert broken["both_passed"] is False and broken["error"] is None
    assert first["eval_summary"]["passed"] == 1 and first["eval_summary"]["total_runs"] == 1
    assert second["eval_summary"]["total_runs"] == 2
    assert (second["eval_summary"]["passed"], second["eval_summary"]["failed"]) == (1, 1)
    assert load(run_dir / "eval_summary.json")["total_runs"] == 2


def test_summary_accumulates_across_invocations(coop: tuple[Path, Any]) -> None:
    run_dir, (first, second) = coop
    assert first["summary"]["total_pairs"] == 1
    assert second["summary"]["total_pairs"] == 2
    summary = load(run_dir / "summary.json")
    assert {row["run"] for row in summary["pairs"]} == {f"{TEXTKIT}/0/1,2", f"{LEDGER}/7/3,4"}
    assert summary["agent_statuses"] == {"Submitted": 4}
    assert len(load(run_dir / "config.json")["history"]) == 1


def test_resume_skips_finished_pairs_and_force_reruns(coop: tuple[Path, Any]) -> None:
    run_dir, _ = coop
    logs = run_dir.parent
    result_path = run_dir / "coop" / TEXTKIT / "0" / "f1_f2" / "result.json"
    before = load(result_path)["run_id"]
    again = run("demo", task=0, features=[1, 2], dataset_dir=DATASET, log_dir=logs)
    assert (again["pairs_run"], again["pairs_skipped"]) == (0, 1)
    assert load(result_path)["run_id"] == before
    forced = run(
        "demo",
        task=0,
        features=[1, 2],
        dataset_dir=DATASET,
        log_dir=logs,
        force=True,
        auto_eval=False,
    )
    assert (forced["pairs_run"], forced["pairs_skipped"]) == (1, 0)
    assert load(result_path)["run_id"] != before
    # A re-run pair loses its old verdict until it is evaluated again.
    assert not (result_path.parent / "eval.json").exists()


def test_solo_run_writes_one_agent(tmp_path: Path) -> None:
    outcome = run(
        "solo",
        task=0,
        features=[1, 2],
        setting="solo",
        dataset_dir=DATASET,
        log_dir=tmp_path,
        eval_concurrency=1,
    )
    pair = tmp_path / "solo" / "solo" / TEXTKIT / "0" / "f1_f2"
    names = {p.name for p in pair.iterdir()}
    assert {"result.json", "solo.patch", "solo_traj.json", "eval.json"} <= names
    assert "conversation.json" not in names and "agent1.patch" not in names
    result = load(pair / "result.json")
    assert "agents" not in result
    assert result["agent"]["status"] == "Submitted"
    assert result["agent"]["feature_ids"] == [1, 2]
    patch = (pair / "solo.patch").read_text()
    assert "textkit/core.py" in patch and "textkit/stats.py" in patch
    assert outcome["eval_summary"]["passed"] == 1


def test_three_agents_share_a_git_remote(tmp_path: Path) -> None:
    run(
        "trio",
        task=0,
        features=[1, 2, 4],
        git=True,
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
    )
    pair = tmp_path / "trio" / "coop" / TEXTKIT / "0" / "f1_f2_f4"
    result = load(pair / "result.json")
    assert {a: r["feature_id"] for a, r in result["agents"].items()} == {
        "agent1": 1,
        "agent2": 2,
        "agent3": 4,
    }
    assert all(r["status"] == "Submitted" for r in result["agents"].values())
    assert {"agent1.patch", "agent2.patch", "agent4.patch"} <= {p.name for p in pair.iterdir()}
    assert len(load(pair / "conversation.json")) == 6  # each agent tells the two others
    for feature_id in (1, 2, 4):
        trajectory = load(pair / f"agent{feature_id}_traj.json")["trajectory"]
        branches = [e["branches"] for e in trajectory if e["type"] == "remote_branches"]
        assert branches == [["team/agent1", "team/agent2", "team/agent3"]]
        pushes = [
            e for e in trajectory if e["type"] == "command" and e["command"][:2] == ["git", "push"]
        ]
        assert pushes and pushes[0]["exit_code"] == 0
