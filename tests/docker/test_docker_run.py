"""`cooperbench run --backend docker`: agents in task containers, messaging, auto-eval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cooperbench import run
from cooperbench.agents.registry import AgentRegistry
from cooperbench.agents.types import SUBMITTED, AgentResult, AgentTask

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
# Images of their own, built from the offline base image only if --build-arg reaches
# the build: the Dockerfiles' default base (python:3.11-slim) cannot be pulled here.
TEMPLATE = "cooperbench-test/{repo_slug}-run:{task_id}"


def test_gold_coop_run_on_docker_builds_with_build_args_and_passes(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    command = [
        *CLI,
        "run",
        "-n",
        "docker-gold",
        "-s",
        "flash",
        "--setting",
        "coop",
        "-a",
        "gold",
        "--git",
        "--backend",
        "docker",
        "--dataset-dir",
        str(DEMO_DATASET),
        "--log-dir",
        str(logs),
        "--image-template",
        TEMPLATE,
        "--build-arg",
        "BASE_IMAGE=cooperbench/base:bookworm",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    pair = logs / "docker-gold" / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = json.loads((pair / "result.json").read_text())
    assert {a["status"] for a in result["agents"].values()} == {"Submitted"}
    verdict = json.loads((pair / "eval.json").read_text())
    assert verdict["status"] == "passed", verdict.get("error")
    leftovers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=cooperbench.run=docker-gold"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert leftovers.stdout.strip() == ""


def test_bad_build_arg_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "run", "--backend", "docker", "--build-arg", "NOVALUE"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error:")
    assert "KEY=VALUE" in done.stderr and "Traceback" not in done.stderr


def test_backend_options_are_checked_before_any_work(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for option, message in (
        ("cpus=many", "backend option cpus='many': not a number"),
        ("cpus=4096", "backend option cpus: 4096 CPUs asked for, but the Docker engine's host has"),
        ("colour=red", "backend 'docker' has no option 'colour'"),
    ):
        done = subprocess.run(
            [
                *CLI,
                "run",
                "--backend",
                "docker",
                "--backend-option",
                option,
                "--dataset-dir",
                str(DEMO_DATASET),
                "--log-dir",
                str(logs),
                "-t",
                "0",
                "-f",
                "1,2",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"error: {message}"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert not logs.exists()


def test_docker_agents_get_the_given_env_and_their_logs_are_copied(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    secret = "docker-s3cret-99"
    check = '[ "$TOKEN" = "$EXPECTED" ] && [ "$MODE" = fast ] && echo ok > seen.txt; echo DONE'
    command = [
        *CLI,
        "run",
        "-n",
        "docker-env",
        "-t",
        "0",
        "-f",
        "1,2",
        "--setting",
        "solo",
        "-a",
        "command",
        "--agent-command",
        check,
        "--env",
        "MODE=fast",
        "--env",
        f"EXPECTED={secret}",
        "--pass-env",
        "TOKEN",
        "--no-auto-eval",
        "--backend",
        "docker",
        "--dataset-dir",
        str(DEMO_DATASET),
        "--log-dir",
        str(logs),
        "--image-template",
        TEMPLATE,
        "--build-arg",
        "BASE_IMAGE=cooperbench/base:bookworm",
    ]
    environ = {**os.environ, "TOKEN": secret}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environ)
    assert done.returncode == 0, done.stderr
    run_dir = logs / "docker-env"
    pair = run_dir / "solo" / "demo_textkit_task" / "0" / "f1_f2"
    assert "seen.txt" in (pair / "solo.patch").read_text()
    assert (pair / "solo_stdout.log").read_text() == "DONE\n"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["env"] == ["EXPECTED", "MODE"] and config["pass_env"] == ["TOKEN"]
    assert config["backend_options"] == ["build_args.BASE_IMAGE"]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


class OwnLogAgent:
    """An agent that keeps its own log in the repository's parent and runs nothing else."""

    def run(self, task: AgentTask) -> AgentResult:
        task.sandbox.write_file("/workspace/agent.log", "thinking...\ndone\n")
        return AgentResult(SUBMITTED, logs={"agent.log": "/workspace/agent.log"})


def test_docker_copies_a_log_the_agent_keeps_anywhere(tmp_path: Path) -> None:
    # Nothing of the harness has touched the container's scratch folder before the copy.
    agents = AgentRegistry.discover(disabled=())
    agents.register("own-log", OwnLogAgent())
    run(
        "docker-own-log",
        task=0,
        features=[1, 2],
        setting="solo",
        agent="own-log",
        backend="docker",
        image_template=TEMPLATE,
        backend_options={"build_args": {"BASE_IMAGE": "cooperbench/base:bookworm"}},
        dataset_dir=DEMO_DATASET,
        log_dir=tmp_path,
        auto_eval=False,
        agents=agents,
    )
    pair = tmp_path / "docker-own-log" / "solo" / "demo_textkit_task" / "0" / "f1_f2"
    record = json.loads((pair / "result.json").read_text())["agent"]
    assert record["logs"]["agent.log"] == {
        "file": "solo_agent.log",
        "bytes": 17,
        "truncated": False,
    }
    assert (pair / "solo_agent.log").read_text() == "thinking...\ndone\n"
