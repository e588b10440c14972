"""What the harness settles in an agent's sandbox before the agent runs.

The user's variables (``env``, ``pass_env``) reach every command of the sandbox, not
only those given ``task.env``; a base commit that cannot be read is the harness's
failure (an infrastructure error), never the agent's.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from cooperbench import run
from cooperbench.agents.registry import AgentRegistry
from cooperbench.agents.types import SUBMITTED, AgentResult, AgentTask
from cooperbench.errors import INFRASTRUCTURE, UsageError
from cooperbench.local import LocalSandbox
from cooperbench.markers import hookimpl
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import SandboxRequest
from cooperbench.sandbox_paths import REPO_DIR

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
SOLO_PAIR = Path("solo") / "demo_textkit_task" / "0" / "f1_f2"


class EnvRecorder:
    """Records the agent's env and what a sandbox command given no env sees."""

    def __init__(self) -> None:
        self.task_env: dict[str, str] = {}
        self.sandbox_sees = ""

    def run(self, task: AgentTask) -> AgentResult:
        self.task_env = dict(task.env)
        done = task.sandbox.exec("sh", "-c", 'printf %s "$FROM_ENV/$FROM_PASS"', timeout=30)
        self.sandbox_sees = done.stdout_read()
        return AgentResult(SUBMITTED)


def test_env_reaches_the_task_and_every_command_of_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_PASS", "passed-through")
    agents = AgentRegistry.discover(disabled=())
    recorder = EnvRecorder()
    agents.register("envrec", recorder)
    run(
        "api",
        task=0,
        features=[1, 2],
        setting="solo",
        agent="envrec",
        env={"FROM_ENV": "given"},
        pass_env=["FROM_PASS"],
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
        agents=agents,
    )
    assert recorder.task_env["FROM_ENV"] == "given"
    assert recorder.task_env["FROM_PASS"] == "passed-through"
    assert recorder.sandbox_sees == "given/passed-through"


@pytest.mark.parametrize("name", ["1ABC", "", "A B", "A=B"])
def test_bad_variable_names_are_usage_errors_before_any_work(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="--env"):
        run("bad", task=0, env={name: "x"}, dataset_dir=DATASET, log_dir=tmp_path)
    assert not (tmp_path / "bad").exists()


def test_unreadable_base_commit_is_an_infrastructure_error(tmp_path: Path) -> None:
    @hookimpl
    def create_sandbox(request: SandboxRequest) -> LocalSandbox:
        sandbox = LocalSandbox.create(request)
        sandbox.exec("rm", "-rf", ".git", cwd=REPO_DIR)  # the image's checkout is broken
        return sandbox

    plugins = PluginManager.discover(disabled=())
    plugins.register(types.SimpleNamespace(create_sandbox=create_sandbox), name="headless")
    outcome = run(
        "headless",
        task=0,
        features=[1, 2],
        setting="solo",
        backend="headless",
        dataset_dir=DATASET,
        log_dir=tmp_path,
        plugins=plugins,
    )
    result = json.loads((tmp_path / "headless" / SOLO_PAIR / "result.json").read_text())
    record = result["agent"]
    assert record["status"] == "Error" and record["error_kind"] == INFRASTRUCTURE
    assert "base commit" in record["error"]
    scored = json.loads((tmp_path / "headless" / SOLO_PAIR / "eval.json").read_text())
    assert (scored["status"], scored["error_kind"]) == ("error", INFRASTRUCTURE)  # no verdict
    assert [row["run"] for row in outcome["incomplete"]] == ["demo_textkit_task/0/1,2"]
