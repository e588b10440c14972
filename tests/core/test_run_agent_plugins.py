"""Agents are discovered from the `cooperbench.agents` entry-point group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cooperbench import run
from cooperbench.agents.registry import AgentRegistry
from cooperbench.agents.types import SUBMITTED, AgentResult, AgentTask
from cooperbench.errors import PluginLoadError, UnknownAgentError

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"


def install_fake_distribution(site: Path, entry_points: str) -> None:
    """A real (if tiny) installed distribution, as importlib.metadata finds them."""
    info = site / "cooperbench_fake_agents-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cooperbench-fake-agents\nVersion: 1.2.3\n"
    )
    (info / "entry_points.txt").write_text(f"[cooperbench.agents]\n{entry_points}")
    (site / "fake_agent_mod.py").write_text(
        "from cooperbench.agents.types import AgentResult\n"
        "class Echo:\n"
        "    def run(self, task):\n"
        "        return AgentResult('Submitted', patch='', steps=0)\n"
    )


def test_broken_agent_is_reported_and_others_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(tmp_path, "echo = fake_agent_mod:Echo\nbroken = no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    agents = AgentRegistry.discover(disabled=())
    infos = {info.name: info for info in agents.infos()}
    assert infos["echo"].loaded and infos["echo"].dist_name == "cooperbench-fake-agents"
    assert infos["echo"].dist_version == "1.2.3"
    assert infos["broken"].state == "broken" and "no_such_module_xyz" in (
        infos["broken"].error or ""
    )
    assert infos["gold"].loaded and infos["command"].loaded
    with pytest.raises(PluginLoadError, match="cooperbench-fake-agents"):
        agents.require("broken")
    with pytest.raises(UnknownAgentError, match="installed: command, echo, gold"):
        agents.require("nope")


def test_disabled_agents_cannot_be_chosen() -> None:
    agents = AgentRegistry.discover(disabled={"gold"})
    with pytest.raises(PluginLoadError, match="COOPERBENCH_DISABLED_PLUGINS"):
        agents.require("gold")


class Recorder:
    """An in-process agent that records what it was given."""

    def __init__(self) -> None:
        self.tasks: list[AgentTask] = []

    def run(self, task: AgentTask) -> AgentResult:
        self.tasks.append(task)
        return AgentResult(
            SUBMITTED,
            patch="",
            cost=0.25,
            steps=3,
            input_tokens=10,
            output_tokens=5,
            trajectory=[{"type": "note"}],
        )


def test_agent_gets_its_task_model_config_and_endpoints(tmp_path: Path) -> None:
    agents = AgentRegistry.discover(disabled=())
    recorder = Recorder()
    agents.register("recorder", recorder)
    config = tmp_path / "agent.toml"
    config.write_text("temperature = 0.5\n[limits]\nsteps = 7\n")
    run(
        "rec",
        task=0,
        features=[1, 2],
        agent="recorder",
        model="some-model",
        agent_config=config,
        git=True,
        dataset_dir=DATASET,
        log_dir=tmp_path / "logs",
        auto_eval=False,
        agents=agents,
    )
    by_id = {task.agent_id: task for task in recorder.tasks}
    assert set(by_id) == {"agent1", "agent2"}
    first = by_id["agent1"]
    assert first.feature_id == 1 and first.partner_ids == ("agent2",)
    assert first.task_text == (DATASET / "demo_textkit_task/task0/feature1/feature.md").read_text()
    assert first.model == "some-model"
    assert dict(first.config) == {"temperature": 0.5, "limits": {"steps": 7}}
    assert first.redis_url is not None and "#run:" in first.redis_url
    assert first.git_url is not None and first.git_url.startswith("git://")
    assert first.env["COOPERBENCH_AGENT_ID"] == "agent1"
    assert len(first.base_commit) == 40
    result = json.loads(
        (tmp_path / "logs/rec/coop/demo_textkit_task/0/f1_f2/result.json").read_text()
    )
    assert result["total_cost"] == 0.5 and result["total_steps"] == 6
    assert result["agents"]["agent2"]["input_tokens"] == 10
