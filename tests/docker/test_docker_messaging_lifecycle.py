"""Docker messaging as the harness sees it: the conversation, run labels, lifetime, cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cooperbench import labels as cb_labels
from cooperbench.messaging.client import MessageClient, conversation
from cooperbench.messaging.types import MessagingRequest
from cooperbench.messaging.url import RedisUrl
from cooperbench.plugin_manager import PluginManager

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
TEMPLATE = "cooperbench-test/{repo_slug}-run:{task_id}"
AGENTS = ("agent1", "agent2")


def _containers(api: Any, run: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.containers(
        all=True, filters={"label": f"{cb_labels.RUN}={run}"}
    )
    return found


def _networks(api: Any, run: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.networks(filters={"label": f"{cb_labels.RUN}={run}"})
    return found


def test_gold_coop_run_keeps_every_message(tmp_path: Path, gold_conversation_kept: Any) -> None:
    logs = tmp_path / "logs"
    command = [*CLI, "run", "-n", "docker-chat", "-s", "flash", "--setting", "coop"]
    command += ["-a", "gold", "--backend", "docker", "--dataset-dir", str(DEMO_DATASET)]
    command += ["--log-dir", str(logs), "--image-template", TEMPLATE, "--no-auto-eval"]
    command += ["--build-arg", "BASE_IMAGE=cooperbench/base:bookworm"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    pair = logs / "docker-chat" / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    gold_conversation_kept(pair)


def test_host_reads_the_log_through_its_own_url() -> None:
    run_id = f"hosturl-{uuid.uuid4().hex[:8]}"
    request = MessagingRequest(run_id=run_id, agent_ids=AGENTS)
    with PluginManager.discover().setup_messaging("docker", request) as session:
        assert session.host_redis_url is not None
        host = RedisUrl.parse(session.host_redis_url)
        assert host.run_id == run_id
        assert host.host != RedisUrl.parse(session.redis_url).host
        with MessageClient(session.host_redis_url, "agent1") as client:
            client.send("agent2", "over here")
        # The call as the run makes it: with the session, whose agents' URL the host
        # cannot resolve.
        entries = conversation(session, {"agent1": 1, "agent2": 2})
        assert [(e["from"], e["to"], e["message"], e["feature_id"]) for e in entries] == [
            ("agent1", "agent2", "over here", 1)
        ]


def test_servers_carry_the_run_label_and_end_at_their_lifetime(api: Any) -> None:
    run = f"lifetime-{uuid.uuid4().hex[:8]}"
    labels = cb_labels.owner_labels(run=run, purpose="messaging")
    request = MessagingRequest(
        run_id=f"{run}-0-1-2", agent_ids=AGENTS, git=True, labels=labels, lifetime=4
    )
    with PluginManager.discover().setup_messaging("docker", request):
        purposes = {c["Labels"][cb_labels.PURPOSE] for c in _containers(api, run)}
        assert purposes == {"redis", "git"}
        deadline = time.monotonic() + 30
        while _containers(api, run) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _containers(api, run) == []


_HARNESS = """
import sys, time
from cooperbench.labels import owner_labels
from cooperbench.messaging.types import MessagingRequest
from cooperbench.plugin_manager import PluginManager
run = sys.argv[1]
request = MessagingRequest(run_id=run + "-0-1-2", agent_ids=("agent1", "agent2"), git=True,
                           labels=owner_labels(run=run, purpose="messaging"))
PluginManager.discover().setup_messaging("docker", request)
print("ready", flush=True)
time.sleep(600)
"""


def test_cleanup_finds_the_servers_of_a_killed_run(api: Any) -> None:
    run = f"killed-{uuid.uuid4().hex[:8]}"
    harness = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, run], stdout=subprocess.PIPE, text=True
    )
    try:
        assert harness.stdout is not None
        assert harness.stdout.readline().strip() == "ready"
    finally:
        os.kill(harness.pid, signal.SIGKILL)
        harness.wait()
    assert len(_containers(api, run)) == 2
    listed = subprocess.run(
        [*CLI, "cleanup", "--backend", "docker", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count(f"(run {run})") == 3  # redis, git daemon, network
    assert len(_containers(api, run)) == 2
    removed = subprocess.run(
        [*CLI, "cleanup", "--backend", "docker"], capture_output=True, text=True, timeout=120
    )
    assert removed.returncode == 0, removed.stderr
    assert _containers(api, run) == []
    assert _networks(api, run) == []
