"""`cooperbench run --backend modal`: agents in Modal sandboxes, Redis and git through
Modal tunnels, auto-eval, and nothing left behind (also when interrupted).

The stand-in's encrypted tunnels present certificates of its own CA: the harness trusts
it through ``SSL_CERT_FILE`` (as it would trust Modal's public certificates through the
system store) and the stand-in installs it in every sandbox. The servers' images come
from the local engine, as Modal would pull ``redis:7-alpine`` from its registry.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from standin.harness import ModalStandin
from test_modal_eval import TEMPLATE, build_task_images

from cooperbench.messaging.types import MessagingRequest
from cooperbench.plugin_manager import PluginManager

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("modal_standin")]

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


@pytest.fixture(scope="module")
def demo_images() -> str:
    """The demo task images (as the eval tests build them); returns their template."""
    build_task_images(DEMO_DATASET, TEMPLATE)
    return TEMPLATE


@pytest.fixture
def run_env(modal_env: dict[str, str], modal_standin: ModalStandin, redis_server_image: str) -> Any:
    """The environment of a `cooperbench run` subprocess on the stand-in."""
    return {
        **modal_env,
        "SSL_CERT_FILE": str(modal_standin.ca_file),
        "COOPERBENCH_REDIS_IMAGE": redis_server_image,
        "COOPERBENCH_GIT_IMAGE": redis_server_image,
    }


@pytest.fixture
def server_env(
    monkeypatch: pytest.MonkeyPatch, modal_standin: ModalStandin, redis_server_image: str
) -> None:
    """The same settings in this process, for tests that call the plugin directly."""
    monkeypatch.setenv("SSL_CERT_FILE", str(modal_standin.ca_file))
    monkeypatch.setenv("COOPERBENCH_REDIS_IMAGE", redis_server_image)
    monkeypatch.setenv("COOPERBENCH_GIT_IMAGE", redis_server_image)


def live_sandboxes(run: str) -> list[str]:
    import modal

    from cooperbench_modal.client import lookup_app

    app = lookup_app("cooperbench", "cooperbench")
    found = modal.Sandbox.list(app_id=app.app_id, tags={"cooperbench.run": run})
    return [sandbox.object_id for sandbox in found]


def run_command(
    run: str, logs: Path, template: str, *extra: str, agent: tuple[str, ...] = ("gold",)
) -> list[str]:
    return [
        *CLI,
        "run",
        "-n",
        run,
        "-s",
        "flash",
        "--setting",
        "coop",
        "-a",
        *agent,
        "--backend",
        "modal",
        "--dataset-dir",
        str(DEMO_DATASET),
        "--log-dir",
        str(logs),
        "--image-template",
        template,
        *extra,
    ]


def test_gold_coop_run_with_git_passes_and_keeps_the_conversation(
    tmp_path: Path, demo_images: str, run_env: dict[str, str], gold_conversation_kept: Any
) -> None:
    run = f"modal-gold-{uuid.uuid4().hex[:6]}"
    logs = tmp_path / "logs"
    done = subprocess.run(
        run_command(run, logs, demo_images, "--git"),
        capture_output=True,
        text=True,
        env=run_env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    pair = logs / run / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = gold_conversation_kept(pair)
    assert {a["status"] for a in result["agents"].values()} == {"Submitted"}
    verdict = json.loads((pair / "eval.json").read_text())
    assert verdict["status"] == "passed", verdict.get("error")
    assert verdict["backend"] == "modal"
    # Agents, servers and the eval sandbox are all gone.
    assert live_sandboxes(run) == []


def test_messaging_servers_are_protected_and_go_with_the_session(server_env: None) -> None:
    from cooperbench.plugin import RedisUrl, connect_redis
    from cooperbench.plugin import labels as cb_labels

    run = f"modal-msg-{uuid.uuid4().hex[:6]}"
    request = MessagingRequest(
        run_id=run, agent_ids=("agent1", "agent2"), git=True, labels={cb_labels.RUN: run}
    )
    with PluginManager.discover().setup_messaging("modal", request) as session:
        url = RedisUrl.parse(session.redis_url)
        assert session.redis_url.startswith("rediss://")
        assert url.password and len(url.password) >= 24
        assert url.run_id == run
        assert session.git_url is not None and session.git_url.endswith(f"/{run}.git")
        connect_redis(url).close()
        # Without the password the server refuses.
        with pytest.raises(Exception, match=r"(?i)auth|password|NOAUTH"):
            connect_redis(RedisUrl.parse(f"rediss://{url.host}:{url.port}")).close()
        assert len(live_sandboxes(run)) == 2
    assert live_sandboxes(run) == []


def test_messaging_servers_go_to_the_runs_app_and_environment(server_env: None) -> None:
    import modal

    from cooperbench.plugin import labels as cb_labels

    modal.Environment.from_name("msg-env", create_if_missing=True).hydrate()
    run = f"modal-opt-{uuid.uuid4().hex[:6]}"
    options = {"app": "msg-app", "environment": "msg-env"}
    request = MessagingRequest(
        run_id=run,
        agent_ids=("agent1", "agent2"),
        git=True,
        labels={cb_labels.RUN: run},
        options=PluginManager.discover().resolve_options("modal", options),
    )
    with PluginManager.discover().setup_messaging("modal", request):
        app = modal.App.lookup("msg-app", environment_name="msg-env")
        found = modal.Sandbox.list(app_id=app.app_id, tags={cb_labels.RUN: run})
        assert len(list(found)) == 2
        assert live_sandboxes(run) == []  # none in the default app


def test_user_redis_url_starts_no_server(server_env: None) -> None:
    from cooperbench.plugin import labels as cb_labels

    plugins = PluginManager.discover()
    owner = MessagingRequest(run_id="owner", agent_ids=("agent1",), labels={cb_labels.RUN: "o"})
    with plugins.setup_messaging("modal", owner) as theirs:
        run = f"modal-byo-{uuid.uuid4().hex[:6]}"
        request = MessagingRequest(
            run_id=run,
            agent_ids=("agent1", "agent2"),
            redis_url=theirs.redis_url.split("#")[0],
            labels={cb_labels.RUN: run},
        )
        with plugins.setup_messaging("modal", request) as session:
            assert session.redis_url.endswith(f"#run:{run}")
            assert live_sandboxes(run) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_no_sandbox(
    tmp_path: Path, demo_images: str, run_env: dict[str, str], sig: signal.Signals
) -> None:
    run = f"modal-int-{uuid.uuid4().hex[:6]}"
    logs = tmp_path / "logs"
    # Agents that only sleep: the run is surely under way when the signal comes.
    agent = ("command", "--agent-command", "sleep 600")
    process = subprocess.Popen(
        run_command(run, logs, demo_images, "--git", "--no-auto-eval", agent=agent),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**run_env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 300
        # Redis, git and both agents' sandboxes are up.
        while len(live_sandboxes(run)) < 4:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never started its sandboxes"
            time.sleep(0.3)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert live_sandboxes(run) == []
