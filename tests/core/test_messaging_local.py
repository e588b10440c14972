"""The local backend's setup_messaging: a real redis-server and a real git daemon."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs
import pytest
from loopback import port_open, wait_closed

from cooperbench.errors import MessagingConnectionError
from cooperbench.messaging.resp import connect
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.messaging.url import RedisUrl
from cooperbench.plugin_manager import PluginManager


def setup(git: bool = False, redis_url: str | None = None) -> MessagingSession:
    request = MessagingRequest("r1", ("agent1", "agent2"), git=git, redis_url=redis_url)
    return PluginManager.discover(disabled=()).setup_messaging("local", request)


def git_port(session: MessagingSession) -> int:
    assert session.git_url is not None
    return int(session.git_url.split(":")[2].split("/")[0])


def test_private_redis_and_git_daemon_start_and_stop(tmp_path: Path) -> None:
    session = setup(git=True)
    with session:
        url = RedisUrl.parse(session.redis_url)
        assert (url.host, url.run_id) == ("127.0.0.1", "r1")
        # A password generated for the run guards the server; nobody gets in without it.
        assert url.password and len(url.password) >= 24 and url.username is None
        assert session.redis_url == f"redis://:{url.password}@127.0.0.1:{url.port}#run:r1"
        connect(url).close()
        with pytest.raises(MessagingConnectionError, match=r"NOAUTH|uthentication required"):
            connect(attrs.evolve(url, password=None))
        with pytest.raises(MessagingConnectionError, match=r"WRONGPASS|invalid"):
            connect(attrs.evolve(url, password="not-the-one"))
        assert session.git_url == f"git://127.0.0.1:{git_port(session)}/r1.git"
        # The remote is a real, empty, pushable repository.
        listed = subprocess.run(["git", "ls-remote", session.git_url], capture_output=True)
        assert listed.returncode == 0 and listed.stdout == b""
    assert wait_closed(url.port) and wait_closed(git_port(session))
    session.close()  # idempotent


def test_without_git_there_is_no_git_url() -> None:
    with setup() as session:
        assert session.git_url is None


def test_teardown_runs_when_the_run_is_interrupted() -> None:
    with pytest.raises(KeyboardInterrupt), setup(git=True) as session:
        port = RedisUrl.parse(session.redis_url).port
        raise KeyboardInterrupt
    assert wait_closed(port) and wait_closed(git_port(session))


def test_servers_stop_when_the_harness_is_killed() -> None:
    run_id = f"dead{os.getpid()}"
    code = (
        "import time\n"
        "from cooperbench.local.messaging import setup_local_messaging\n"
        "from cooperbench.messaging.types import MessagingRequest\n"
        f"s = setup_local_messaging(MessagingRequest({run_id!r}, ('a', 'b'), git=True))\n"
        "print(s.redis_url, s.git_url, flush=True)\n"
        "time.sleep(120)\n"
    )
    harness = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert harness.stdout is not None
    redis_url, git_url = harness.stdout.readline().split()
    redis_port = RedisUrl.parse(redis_url).port
    assert port_open(redis_port)
    os.kill(harness.pid, signal.SIGKILL)
    harness.wait()
    assert wait_closed(redis_port)
    assert wait_closed(int(git_url.split(":")[2].split("/")[0]))
    # The watchdogs also remove the servers' folders.
    deadline = time.monotonic() + 10
    while list(Path(tempfile.gettempdir()).glob(f"cooperbench-*-{run_id}-*")):
        assert time.monotonic() < deadline, "server folders left behind"
        time.sleep(0.05)


def test_user_redis_is_checked_and_namespaced(redis_server: str) -> None:
    with setup(redis_url=redis_server) as session:
        assert session.redis_url == f"{redis_server}#run:r1"
    # The user's server is theirs: it keeps running.
    assert port_open(RedisUrl.parse(redis_server).port)


def test_unreachable_user_redis_is_a_clear_error() -> None:
    with pytest.raises(MessagingConnectionError, match=r"^cannot reach Redis at 127\.0\.0\.1:1: "):
        setup(redis_url="redis://127.0.0.1:1")


def test_the_password_is_on_no_command_line() -> None:
    with setup() as session:
        password = RedisUrl.parse(session.redis_url).password
        assert password
        # Any user can list command lines; the server and its watchdog must not show it.
        shown = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                shown.append(cmdline.read_bytes().decode(errors="replace"))
        assert any("redis-server" in line for line in shown)
        assert not [line for line in shown if password in line]
