"""``local`` messaging without redis-server: the embedded Redis-compatible server.

Every test here runs with a ``PATH`` that has no ``redis-server``, as on a bare machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from loopback import port_open, wait_closed

from cooperbench.errors import MessagingConnectionError, MessagingError
from cooperbench.local import embedded_redis
from cooperbench.messaging.client import Message, MessageClient, conversation
from cooperbench.messaging.resp import RedisConnection, connect
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.messaging.url import RedisUrl
from cooperbench.plugin_manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
AGENTS = ("agent1", "agent2")


def tools_path(folder: Path, *programs: str) -> str:
    """A ``PATH`` of one folder holding only ``programs`` (and python3: this interpreter)."""
    folder.mkdir(parents=True, exist_ok=True)
    for program in programs:
        found = shutil.which(program)
        assert found is not None, f"{program} is needed for this test"
        (folder / program).symlink_to(found)
    # A script, not a link: a virtual environment's interpreter started through a link
    # elsewhere would not find its pyvenv.cfg and lose its packages.
    (folder / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (folder / "python3").chmod(0o755)
    path = str(folder)
    assert shutil.which("redis-server", path=path) is None
    return path


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """This process's ``PATH`` without redis-server: sh and git (for ``--git``), python3."""
    path = tools_path(tmp_path / "bin", "sh", "git")
    monkeypatch.setenv("PATH", path)
    return path


@pytest.fixture
def session(bare_path: str) -> Iterator[MessagingSession]:
    request = MessagingRequest("emb1", AGENTS, git=True)
    with PluginManager.discover(disabled=()).setup_messaging("local", request) as started:
        yield started


def coop(command: Path, url: str, agent: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COOPERBENCH_REDIS_URL": url,
        "COOPERBENCH_AGENT_ID": agent,
        "COOPERBENCH_AGENTS": ",".join(AGENTS),
    }
    return subprocess.run(
        [sys.executable, "-I", str(command), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_it_stands_in_for_redis_server_behind_a_generated_password(
    session: MessagingSession,
) -> None:
    url = RedisUrl.parse(session.redis_url)
    assert (url.host, url.run_id, url.username) == ("127.0.0.1", "emb1", "cooperbench")
    assert url.password and len(url.password) >= 24
    connect(url).close()
    # fakeredis takes any password for its default user; the run's server does not.
    with pytest.raises(MessagingConnectionError, match=r"^cannot reach Redis at 127\.0\.0\.1:"):
        connect(attrs.evolve(url, username=None, password=None))
    with pytest.raises(MessagingConnectionError, match=r"^cannot reach Redis at 127\.0\.0\.1:"):
        connect(attrs.evolve(url, password="not-the-one"))
    with pytest.raises(MessagingConnectionError):
        connect(attrs.evolve(url, username=None))  # the password, as the default user
    assert session.git_url is not None  # --git still works: git daemon needs no Redis


def test_coop_msg_and_the_client_talk_through_it(
    session: MessagingSession, coop_msg_script: Path
) -> None:
    url = session.redis_url
    with MessageClient(url, "agent1") as client:
        client.send("agent2", "from python")
        received = coop(coop_msg_script, url, "agent2", "recv", "--wait", "5")
        assert received.returncode == 0, received.stderr
        assert json.loads(received.stdout)["content"] == "from python"
        sent = coop(coop_msg_script, url, "agent2", "send", "agent1", "from the command")
        assert sent.returncode == 0, sent.stderr
        reply = client.receive(5)
        assert reply is not None and (reply.sender, reply.content) == ("agent2", "from the command")
        assert coop(coop_msg_script, url, "agent1", "broadcast", "to all").returncode == 0
        peeked = coop(coop_msg_script, url, "agent2", "peek")
        assert [json.loads(line)["content"] for line in peeked.stdout.splitlines()] == ["to all"]
        started = time.monotonic()
        quiet = coop(coop_msg_script, url, "agent1", "recv", "--wait", "0.3")
        assert quiet.returncode == 0 and quiet.stdout == ""
        assert time.monotonic() - started >= 0.3
    assert [e["message"] for e in conversation(session, {"agent1": 1, "agent2": 2})] == [
        "from python",
        "from the command",
        "to all",
    ]


def test_it_serves_every_command_the_clients_send(session: MessagingSession) -> None:
    url = RedisUrl.parse(session.redis_url)
    with MessageClient(url, "agent1", ttl=120) as one, MessageClient(url, "agent2") as two:
        for index in range(30):
            one.send("agent2", f"m{index}")
        with RedisConnection(url) as raw:
            for key in (url.inbox_key("agent2"), url.log_key):
                assert 0 < raw.execute("TTL", key) <= 120
            assert sorted(raw.execute("KEYS", f"{url.namespace}*")) == [
                url.inbox_key("agent2"),
                url.log_key,
            ]
        assert [m.content for m in two.peek()][:2] == ["m0", "m1"]
        assert [m.content for m in two.receive_all()] == [f"m{i}" for i in range(30)]
        assert two.receive(0) is None
        started = time.monotonic()
        assert two.receive(timeout=0.2) is None  # a fractional BLPOP timeout
        assert 0.15 <= time.monotonic() - started < 1.0
    # Another database of the same server (SELECT) is another namespace.
    other = attrs.evolve(url, db=3)
    with MessageClient(other, "agent1") as client:
        client.send("agent2", "in db 3")
        assert [m.content for m in client.message_log()] == ["in db 3"]


def test_a_waiting_receive_wakes_on_a_send_and_on_close(session: MessagingSession) -> None:
    url = session.redis_url
    with MessageClient(url, "agent2") as receiver, MessageClient(url, "agent1") as sender:
        timer = threading.Timer(0.3, sender.send, args=("agent2", "late"))
        timer.start()
        started = time.monotonic()
        message = receiver.receive(10)
        timer.join()
        assert message is not None and message.content == "late"
        assert 0.25 <= time.monotonic() - started < 2.0
    client = MessageClient(url, "agent1")
    errors: list[BaseException] = []
    got: list[Message | None] = []

    def wait_forever() -> None:
        try:
            got.append(client.receive())
        except MessagingConnectionError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait_forever)
    waiter.start()
    time.sleep(0.2)
    client.close()
    waiter.join(5)
    assert not waiter.is_alive() and not got
    assert errors and "was closed" in str(errors[0])


def test_teardown_stops_it(bare_path: str) -> None:
    request = MessagingRequest("emb2", AGENTS)
    session = PluginManager.discover(disabled=()).setup_messaging("local", request)
    port = RedisUrl.parse(session.redis_url).port
    assert port_open(port)
    session.close()
    assert wait_closed(port)
    with pytest.raises(MessagingConnectionError, match="Connection refused"):
        connect(session.redis_url, timeout=2)


def test_it_stops_when_the_harness_is_killed(tmp_path: Path) -> None:
    code = (
        "import time\n"
        "from cooperbench.local.messaging import setup_local_messaging\n"
        "from cooperbench.messaging.types import MessagingRequest\n"
        "s = setup_local_messaging(MessagingRequest('killed', ('a', 'b')))\n"
        "print(s.redis_url, flush=True)\n"
        "time.sleep(120)\n"
    )
    env = {**os.environ, "PATH": tools_path(tmp_path / "bin")}
    harness = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    assert harness.stdout is not None
    url = RedisUrl.parse(harness.stdout.readline().strip())
    assert url.username == embedded_redis.USERNAME
    connect(url).close()
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait()
    assert wait_closed(url.port)


def test_without_fakeredis_the_error_says_what_to_do(
    bare_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fakeredis", None)  # as if it were not installed
    request = MessagingRequest("emb3", AGENTS)
    with pytest.raises(MessagingError) as caught:
        PluginManager.discover(disabled=()).setup_messaging("local", request)
    message = str(caught.value)
    assert message.startswith("no redis-server on PATH and the embedded Redis-compatible server")
    assert "apt-get install redis-server" in message and "--redis URL" in message
    assert "\n" not in message


@pytest.mark.slow
def test_a_coop_run_without_redis_server_records_the_conversation(tmp_path: Path) -> None:
    # Only what a run needs: sh, bash, git, chmod and mkdir for the agents and tools, python3.
    path = tools_path(tmp_path / "bin", "sh", "bash", "git", "chmod", "mkdir")
    command = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
    command += ["run", "-n", "bare", "-s", "flash", "--setting", "coop", "-a", "gold"]
    command += ["--backend", "local", "--dataset-dir", str(DATASET)]
    command += ["--log-dir", str(tmp_path / "logs"), "--no-auto-eval"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "PATH": path}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    pair = tmp_path / "logs" / "bare" / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = json.loads((pair / "result.json").read_text())
    assert "conversation_error" not in result
    assert {r["status"] for r in result["agents"].values()} == {"Submitted"}
    chat = json.loads((pair / "conversation.json").read_text())
    assert sorted((m["from"], m["to"], m["feature_id"]) for m in chat) == [
        ("agent1", "agent2", 1),
        ("agent2", "agent1", 2),
    ]
    assert result["messages_sent"] == 2
