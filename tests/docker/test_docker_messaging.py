"""Messaging on the Docker backend: a per-run network with Redis and a git daemon."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cooperbench import labels as cb_labels
from cooperbench.messaging.install import install_tools
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.messaging.url import RedisUrl
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import ExecResult, Sandbox

pytestmark = pytest.mark.docker

AGENTS = ("agent1", "agent2")


@pytest.fixture
def run_id() -> str:
    return f"msgtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def session(run_id: str) -> Iterator[MessagingSession]:
    request = MessagingRequest(run_id=run_id, agent_ids=AGENTS, git=True)
    started = PluginManager.discover().setup_messaging("docker", request)
    try:
        yield started
    finally:
        started.close()


def _run_label(run_id: str) -> dict[str, str]:
    return {"label": f"{cb_labels.RUN}={run_id}"}


def _sh(sandbox: Sandbox, script: str, env: dict[str, str]) -> ExecResult:
    result = sandbox.exec("sh", "-c", script, env=env, timeout=60)
    assert result.ok, f"{script!r} failed: {result.stdout_read()} {result.stderr_read()}"
    return result


def test_session_describes_endpoints_on_a_labelled_network(
    session: MessagingSession, run_id: str, api: Any
) -> None:
    network = session.sandbox_options["network"]
    assert isinstance(network, str)
    details = api.inspect_network(network)
    assert details["Labels"][cb_labels.RUN] == run_id
    assert details["Labels"][cb_labels.MANAGED] == "true"
    url = RedisUrl.parse(session.redis_url)
    assert url.run_id == run_id
    assert session.git_url is not None
    assert session.git_url.startswith("git://cooperbench-")
    assert session.git_url.endswith(f"/{run_id}.git")
    servers = api.containers(filters=_run_label(run_id))
    assert {c["Labels"][cb_labels.PURPOSE] for c in servers} == {"redis", "git"}
    assert all(network in c["NetworkSettings"]["Networks"] for c in servers)


def test_agents_exchange_messages_and_branches(
    session: MessagingSession,
    run_id: str,
    api: Any,
    make_sandbox: Callable[..., Sandbox],
) -> None:
    first = make_sandbox(options=dict(session.sandbox_options))
    second = make_sandbox(options=dict(session.sandbox_options))
    env1 = install_tools(first, session, "agent1", AGENTS)
    env2 = install_tools(second, session, "agent2", AGENTS)

    _sh(first, "coop-msg send agent2 'hello from agent1'", env1)
    received = _sh(second, "coop-msg recv --wait 10", env2).stdout_read()
    messages = [json.loads(line) for line in received.splitlines() if line.strip()]
    assert [(m["from"], m["to"], m["content"]) for m in messages] == [
        ("agent1", "agent2", "hello from agent1")
    ]

    _sh(
        first,
        "mkdir -p /tmp/repo && cd /tmp/repo && git init -q && coop-git-setup "
        "&& echo shared > file.txt && git add file.txt && git commit -q -m 'from agent1' "
        "&& git push -q team agent1",
        env1,
    )
    fetched = _sh(
        second,
        "mkdir -p /tmp/repo && cd /tmp/repo && git init -q && coop-git-setup >/dev/null "
        "&& git fetch -q team && git log -1 --format=%s team/agent1 && git show team/agent1:file.txt",
        env2,
    ).stdout_read()
    assert fetched.split() == ["from", "agent1", "shared"]

    # Sandboxes still on the network do not stop the teardown.
    session.close()
    session.close()
    assert api.containers(all=True, filters=_run_label(run_id)) == []
    assert api.networks(filters=_run_label(run_id)) == []


def test_evaluation_sandbox_cannot_reach_redis(
    session: MessagingSession, make_sandbox: Callable[..., Sandbox]
) -> None:
    url = RedisUrl.parse(session.redis_url)
    probe = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(({url.host!r}, {url.port}), timeout=3).close()\n"
        "except OSError:\n"
        "    sys.exit(3)\n"
    )
    member = make_sandbox(options=dict(session.sandbox_options))
    assert member.exec("python3", "-c", probe, timeout=30).returncode == 0
    isolated = make_sandbox(network=False)
    assert isolated.exec("python3", "-c", probe, timeout=30).returncode == 3


def test_close_removes_everything_when_no_sandbox_joined(
    session: MessagingSession, run_id: str, api: Any
) -> None:
    assert api.containers(filters=_run_label(run_id))
    session.close()
    assert api.containers(all=True, filters=_run_label(run_id)) == []
    assert api.networks(filters=_run_label(run_id)) == []
