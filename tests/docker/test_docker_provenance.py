"""eval.json on Docker names the image id, and a local verdict is scored again on Docker."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
DEMO_LOGS = ROOT / "examples" / "logs"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
BUILD_ARG = "BASE_IMAGE=cooperbench/base:bookworm"


def test_local_verdict_is_rescored_on_docker_with_the_image_id(tmp_path: Path, api: Any) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(DEMO_LOGS, logs, ignore=shutil.ignore_patterns("eval*.json"))
    common = [
        "eval",
        "-n",
        "gold",
        "-t",
        "0",
        "-f",
        "1,2",
        "--dataset-dir",
        str(DEMO_DATASET),
        "--log-dir",
        str(logs),
    ]
    local = subprocess.run([*CLI, *common], capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    docker = subprocess.run(
        [*CLI, *common, "--backend", "docker", "--build-arg", BUILD_ARG],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert docker.returncode == 0, docker.stderr
    assert "2 pair(s) have a verdict from another backend and are scored again on docker" in (
        docker.stderr
    )
    document = json.loads((logs / "gold/coop/demo_textkit_task/0/f1_f2/eval.json").read_text())
    assert document["backend"] == "docker"
    assert document["status"] == "passed"
    assert document["image_id"] == api.inspect_image(document["image"])["Id"]
