"""The in-sandbox ``coop-msg`` command, run as the standalone file it is shipped as."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from cooperbench.messaging.client import MessageClient


@pytest.fixture
def run_url(redis_server: str) -> str:
    return f"{redis_server}#run:{uuid.uuid4().hex[:8]}"


def coop(
    command: Path, url: str, agent: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COOPERBENCH_REDIS_URL": url,
        "COOPERBENCH_AGENT_ID": agent,
        "COOPERBENCH_AGENTS": "agent1,agent2,agent3",
    }
    return subprocess.run(
        [sys.executable, "-I", str(command), *args],  # -I: no cooperbench on sys.path
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=60,
    )


def test_send_then_recv_prints_json_lines(coop_msg_script: Path, run_url: str) -> None:
    sent = coop(coop_msg_script, run_url, "agent1", "send", "agent2", "hello", "there")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "sent to agent2\n"
    coop(coop_msg_script, run_url, "agent1", "send", "agent2", "second")
    received = coop(coop_msg_script, run_url, "agent2", "recv")
    assert received.returncode == 0, received.stderr
    lines = [json.loads(line) for line in received.stdout.splitlines()]
    assert [(m["from"], m["to"], m["content"]) for m in lines] == [
        ("agent1", "agent2", "hello there"),
        ("agent1", "agent2", "second"),
    ]
    again = coop(coop_msg_script, run_url, "agent2", "recv")
    assert again.returncode == 0 and again.stdout == "" and "no messages" in again.stderr


def test_recv_wait_times_out_quietly(coop_msg_script: Path, run_url: str) -> None:
    started = time.monotonic()
    result = coop(coop_msg_script, run_url, "agent2", "recv", "--wait", "0.3")
    assert result.returncode == 0 and result.stdout == ""
    assert time.monotonic() - started >= 0.3


def test_peek_and_broadcast(coop_msg_script: Path, run_url: str) -> None:
    assert (
        coop(coop_msg_script, run_url, "agent2", "broadcast", "-", stdin="multi\nline").returncode
        == 0
    )
    for agent in ("agent1", "agent3"):
        peeked = coop(coop_msg_script, run_url, agent, "peek")
        assert [json.loads(x)["content"] for x in peeked.stdout.splitlines()] == ["multi\nline"]
    assert coop(coop_msg_script, run_url, "agent2", "peek").stdout == ""
    assert len(coop(coop_msg_script, run_url, "agent1", "recv").stdout.splitlines()) == 1


def test_command_and_python_client_interoperate(coop_msg_script: Path, run_url: str) -> None:
    with MessageClient(run_url, "agent1") as client:
        client.send("agent2", "from python")
        received = coop(coop_msg_script, run_url, "agent2", "recv", "--wait", "5")
        assert json.loads(received.stdout)["content"] == "from python"
        coop(coop_msg_script, run_url, "agent2", "send", "agent1", "from the command")
        message = client.receive(5)
        assert message is not None and message.sender == "agent2"
        assert [m.content for m in client.message_log()] == ["from python", "from the command"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("send", "agent9", "hi"), "unknown agent 'agent9'; the other agents are: agent2, agent3"),
        (("send", "agent1", "hi"), "you are agent1; send to another agent"),
        (("send", "agent2", " "), "the message is empty"),
    ],
)
def test_mistakes_exit_2_with_one_line(
    coop_msg_script: Path, run_url: str, args: tuple[str, ...], error: str
) -> None:
    result = coop(coop_msg_script, run_url, "agent1", *args)
    assert result.returncode == 2
    assert result.stderr == f"coop-msg: {error}\n"


def test_missing_environment_says_messaging_is_off(coop_msg_script: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPERBENCH_")}
    result = subprocess.run(
        [sys.executable, str(coop_msg_script), "peek"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2 and "messaging is not enabled" in result.stderr


def test_unreachable_server_exits_1(coop_msg_script: Path) -> None:
    result = coop(coop_msg_script, "redis://127.0.0.1:1#run:x", "agent1", "peek")
    assert result.returncode == 1
    assert result.stderr.startswith("coop-msg: cannot reach Redis at 127.0.0.1:1: ")
    assert "check COOPERBENCH_REDIS_URL" in result.stderr
