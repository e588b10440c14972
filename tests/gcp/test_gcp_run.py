"""`cooperbench run` on gcp against the stand-ins: agents in Batch sandboxes talk through
the user's Redis, and the conversation is kept.

The Redis server is a container on a Docker network created here, which stands in for
the VMs' VPC network: the run names it with ``--backend-option network=...``, the
stand-in puts the sandboxes' containers on it, and both the harness and the agents
reach the server at its address there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
_REDIS = ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""]


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def redis_on_a_network(redis_server_image: str) -> Iterator[tuple[str, str]]:
    """A redis-server on a Docker network of its own: (network name, Redis URL)."""
    network = f"cb-gcp-vpc-{uuid.uuid4().hex[:8]}"
    _docker("network", "create", network)
    container = ""
    try:
        container = _docker("run", "-d", "--network", network, redis_server_image, *_REDIS)
        address = _docker(
            "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container
        )
        deadline = time.monotonic() + 30
        while _docker("exec", container, "redis-cli", "ping") != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.2)
        yield network, f"redis://{address}:6379/0"
    finally:
        if container:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


@pytest.fixture
def empty_network() -> Iterator[str]:
    """A Docker network with nothing on it: a VPC from which the Redis cannot be reached."""
    network = f"cb-gcp-vpc-{uuid.uuid4().hex[:8]}"
    _docker("network", "create", network)
    try:
        yield network
    finally:
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


def _run_gold(
    logs: Path, redis_url: str, network: str
) -> tuple[str, subprocess.CompletedProcess[str]]:
    run = f"gcp-gold-{uuid.uuid4().hex[:6]}"
    command = [*CLI, "run", "-n", run, "-s", "flash", "--setting", "coop", "-a", "gold"]
    command += ["--backend", "gcp", "--dataset-dir", str(DEMO_DATASET), "--log-dir", str(logs)]
    command += ["--redis", redis_url, "--backend-option", f"network={network}"]
    command += ["--backend-option", "poll_interval=0.2"]
    done = subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ), timeout=900
    )
    return run, done


def test_gold_coop_run_passes_and_keeps_the_conversation(
    gcp_env: Any,
    demo_images: dict[str, str],
    redis_on_a_network: tuple[str, str],
    tmp_path: Path,
    gold_conversation_kept: Any,
) -> None:
    network, redis_url = redis_on_a_network
    logs = tmp_path / "logs"
    run, done = _run_gold(logs, redis_url, network)
    assert done.returncode == 0, done.stderr
    pair = logs / run / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = gold_conversation_kept(pair)
    assert {a["status"] for a in result["agents"].values()} == {"Submitted"}
    verdict = json.loads((pair / "eval.json").read_text())
    assert verdict["status"] == "passed", verdict.get("error")
    assert verdict["backend"] == "gcp"


def test_agents_that_cannot_reach_the_redis_are_the_harness_error(
    gcp_env: Any,
    demo_images: dict[str, str],
    redis_on_a_network: tuple[str, str],
    empty_network: str,
    tmp_path: Path,
) -> None:
    # The harness reaches the server; the agents' VPC does not. Agents that never hear
    # each other would otherwise be scored as if they had chosen not to talk.
    _network, redis_url = redis_on_a_network
    logs = tmp_path / "logs"
    run, done = _run_gold(logs, redis_url, empty_network)
    assert done.returncode == 3, done.stderr
    pair = logs / run / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = json.loads((pair / "result.json").read_text())
    for agent in result["agents"].values():
        assert agent["error_kind"] == "infrastructure"
        assert "cannot reach the run's Redis server" in agent["error"]
    verdict = json.loads((pair / "eval.json").read_text())
    assert (verdict["status"], verdict["error_kind"]) == ("error", "infrastructure")
