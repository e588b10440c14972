"""The `command` agent: a shell command's changes become its patch; failures are re-run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cooperbench import run
from cooperbench.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
PAIR = Path("coop") / "demo_textkit_task" / "0" / "f1_f2"

# Writes a new file naming the agent, edits a tracked one, and messages the partner.
WORKING = (
    'printf "%s %s %s\\n" "$COOPERBENCH_AGENT_ID" "$COOPERBENCH_FEATURE_ID" "$COOPERBENCH_MODEL"'
    ' > "notes_$COOPERBENCH_FEATURE_ID.txt"'
    ' && head -n 1 "$COOPERBENCH_TASK_FILE" >> "notes_$COOPERBENCH_FEATURE_ID.txt"'
    ' && echo "# touched" >> README.md'
    ' && coop-msg broadcast "hello from $COOPERBENCH_AGENT_ID"'
)
FAILING_FOR_2 = (
    'if [ "$COOPERBENCH_FEATURE_ID" = 2 ]; then echo "boom on feature 2" >&2; exit 3; fi;'
    " echo ok > done.txt"
)


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def test_command_changes_become_the_patch(tmp_path: Path) -> None:
    run(
        "cmd",
        task=0,
        features=[1, 2],
        agent="command",
        agent_command=WORKING,
        model="m-1",
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
    )
    pair = tmp_path / "cmd" / PAIR
    result = load(pair / "result.json")
    assert {r["status"] for r in result["agents"].values()} == {"Submitted"}
    assert result["model"] == "m-1"
    patch = (pair / "agent2.patch").read_text()
    assert "diff --git a/notes_2.txt b/notes_2.txt" in patch
    assert "new file mode" in patch
    assert "+agent2 2 m-1" in patch
    first_spec_line = (
        (DATASET / "demo_textkit_task" / "task0" / "feature2" / "feature.md")
        .read_text()
        .splitlines()[0]
    )
    assert f"+{first_spec_line}" in patch
    assert "+# touched" in patch and "README.md" in patch
    assert "notes_1.txt" not in patch  # each agent works in its own sandbox
    conversation = load(pair / "conversation.json")
    assert sorted(m["message"] for m in conversation) == ["hello from agent1", "hello from agent2"]


def test_failing_command_is_an_error_and_is_rerun_on_resume(tmp_path: Path) -> None:
    options: dict[str, Any] = {
        "task": 0,
        "features": [1, 2],
        "agent": "command",
        "dataset_dir": DATASET,
        "log_dir": tmp_path,
        "auto_eval": False,
        "messaging": False,
    }
    first = run("fail", agent_command=FAILING_FOR_2, **options)
    result = load(tmp_path / "fail" / PAIR / "result.json")
    assert result["agents"]["agent1"]["status"] == "Submitted"
    failed = result["agents"]["agent2"]
    assert failed["status"] == "Error"
    assert "status 3" in failed["error"] and "boom on feature 2" in failed["error"]
    assert first["summary"]["pairs_with_errors"] == 1
    assert "conversation.json" in {p.name for p in (tmp_path / "fail" / PAIR).iterdir()}
    assert "done.txt" in (tmp_path / "fail" / PAIR / "agent1.patch").read_text()
    # Not forced, yet the pair with an Error runs again; now it succeeds.
    again = run("fail", agent_command="echo fixed > done.txt", **options)
    assert (again["pairs_run"], again["pairs_skipped"]) == (1, 0)
    result = load(tmp_path / "fail" / PAIR / "result.json")
    assert {r["status"] for r in result["agents"].values()} == {"Submitted"}
    assert again["summary"]["pairs_with_errors"] == 0
    # And a finished pair is then skipped.
    third = run("fail", agent_command="exit 1", **options)
    assert (third["pairs_run"], third["pairs_skipped"]) == (0, 1)


def test_command_agent_needs_a_command(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--agent-command"):
        run("none", task=0, features=[1, 2], agent="command", dataset_dir=DATASET, log_dir=tmp_path)
    assert not (tmp_path / "none").exists()


def test_command_output_goes_to_logs_and_its_end_to_the_trajectory(tmp_path: Path) -> None:
    # 5 MB on stdout and a long stderr: the trajectory and the error keep only their ends.
    noisy = (
        "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST-OUT;"
        " head -c 100000 /dev/zero | tr '\\0' e >&2; echo >&2; echo LAST-ERR >&2; exit 4"
    )
    run(
        "noisy",
        task=0,
        features=[1, 2],
        agent="command",
        agent_command=noisy,
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
        messaging=False,
    )
    pair = tmp_path / "noisy" / PAIR
    failed = load(pair / "result.json")["agents"]["agent1"]
    assert failed["status"] == "Error"
    assert "status 4" in failed["error"] and failed["error"].endswith("LAST-ERR")
    assert len(failed["error"]) < 2100
    entry = load(pair / "agent1_traj.json")["trajectory"][0]
    assert entry["command"][:2] == ["sh", "-c"] and entry["exit_code"] == 4
    assert entry["stdout"].startswith("...") and entry["stdout"].endswith("x\nLAST-OUT\n")
    assert len(entry["stdout"]) <= 4003
    assert entry["stdout_bytes"] == 5_000_000 + len("\nLAST-OUT\n")
    assert entry["stderr_bytes"] == 100_000 + len("\nLAST-ERR\n")
    assert entry["stdout_log"].startswith("/tmp/cooperbench/")
    # The logs live outside the repository, so they are not part of the patch.
    assert "command.stdout.log" not in (pair / "agent1.patch").read_text()
