"""`cooperbench run --backend docker`: agents in task containers, messaging, auto-eval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
