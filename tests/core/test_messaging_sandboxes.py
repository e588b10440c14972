"""Two agents in two local sandboxes talk with coop-msg and share work through git."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from cooperbench import get_backend
from cooperbench.errors import MessagingError, UsageError
from cooperbench.messaging.install import install_tools
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import ExecResult, Sandbox
from cooperbench.sandbox_paths import TOOLS_DIR

AGENTS = ("agent1", "agent2")
REPO = "/workspace/repo"


@pytest.fixture
def plugins() -> PluginManager:
    return PluginManager.discover(disabled=())


@pytest.fixture
def session(plugins: PluginManager) -> Iterator[MessagingSession]:
    request = MessagingRequest(f"pair-{uuid.uuid4().hex[:6]}", AGENTS, git=True)
    with plugins.setup_messaging("local", request) as started:
        yield started


@pytest.fixture
def task(tmp_path: Path) -> Path:
    folder = tmp_path / "demo_task" / "task0"
    (folder / "repo").mkdir(parents=True)
    (folder / "repo" / "app.py").write_text("VALUE = 1\n")
    return folder


def run(sandbox: Sandbox, env: Mapping[str, str], *args: str, cwd: str = REPO) -> ExecResult:
    result = sandbox.exec(*args, env=env, cwd=cwd, timeout=60)
    assert result.ok, f"{args}: {result.stdout_read()} {result.stderr_read()}"
    return result


def received(sandbox: Sandbox, env: Mapping[str, str]) -> list[dict[str, Any]]:
    output = run(sandbox, env, "coop-msg", "recv", "--wait", "10").stdout_read()
    return [json.loads(line) for line in output.splitlines()]


def test_two_sandboxes_message_and_share_branches(
    plugins: PluginManager, session: MessagingSession, task: Path
) -> None:
    local = get_backend("local", plugins)
    with (
        local.create_sandbox("ignored", task_dir=task) as one,
        local.create_sandbox("ignored", task_dir=task) as two,
    ):
        env1 = install_tools(one, session, "agent1", AGENTS)
        env2 = install_tools(two, session, "agent2", AGENTS)
        assert env1["COOPERBENCH_REDIS_URL"] == session.redis_url
        assert env1["COOPERBENCH_GIT_URL"] == session.git_url
        assert (env1["COOPERBENCH_AGENT_ID"], env1["COOPERBENCH_AGENTS"]) == (
            "agent1",
            "agent1,agent2",
        )
        assert env2["PATH"].startswith(f"{TOOLS_DIR}:")

        # Messages, both ways, through the command each agent sees.
        run(one, env1, "coop-msg", "send", "agent2", "I take app.py; you take docs")
        (message,) = received(two, env2)
        assert (message["from"], message["to"]) == ("agent1", "agent2")
        assert message["content"] == "I take app.py; you take docs"
        run(two, env2, "coop-msg", "broadcast", "ok, pushing docs soon")
        assert [m["content"] for m in received(one, env1)] == ["ok, pushing docs soon"]

        # Branches through the shared remote.
        setup_out = run(one, env1, "coop-git-setup").stdout_read()
        assert "on branch 'agent1'" in setup_out
        one.write_file(f"{REPO}/app.py", "VALUE = 2\n")
        run(one, env1, "git", "commit", "-qam", "agent1 work", "--no-gpg-sign")
        run(one, env1, "git", "push", "-q", "team", "agent1")

        run(two, env2, "coop-git-setup")
        two.write_file(f"{REPO}/README", "docs\n")
        run(two, env2, "git", "add", "README")
        run(two, env2, "git", "commit", "-qm", "agent2 work", "--no-gpg-sign")
        run(two, env2, "git", "push", "-q", "team")  # push.default=current
        run(two, env2, "git", "fetch", "-q", "team")
        log = run(two, env2, "git", "log", "--format=%an %s", "team/agent1").stdout_read()
        assert log.splitlines()[0] == "agent1 agent1 work"
        # Same base commit in both sandboxes, so the other's work merges.
        run(two, env2, "git", "merge", "-q", "--no-edit", "--no-gpg-sign", "team/agent1")
        assert two.read_file(f"{REPO}/app.py") == b"VALUE = 2\n"

        run(one, env1, "git", "fetch", "-q", "team")
        branches = run(one, env1, "git", "branch", "-r").stdout_read().split()
        assert {"team/agent1", "team/agent2"} <= set(branches)


def test_git_setup_is_repeatable_and_says_when_there_is_no_remote(
    plugins: PluginManager, task: Path
) -> None:
    request = MessagingRequest(f"nogit-{uuid.uuid4().hex[:6]}", AGENTS)
    local = get_backend("local", plugins)
    with (
        plugins.setup_messaging("local", request) as session,
        local.create_sandbox("ignored", task_dir=task) as sandbox,
    ):
        env = install_tools(sandbox, session, "agent1", AGENTS)
        assert "COOPERBENCH_GIT_URL" not in env
        missing = sandbox.exec("coop-git-setup", env=env, cwd=REPO)
        assert missing.returncode == 2 and "no shared git remote" in missing.stderr_read()
        with_remote = {**env, "COOPERBENCH_GIT_URL": "git://127.0.0.1:9/x.git"}
        for _ in range(2):
            assert sandbox.exec("coop-git-setup", env=with_remote, cwd=REPO).ok
        remote = sandbox.exec("git", "remote", "get-url", "team", cwd=REPO).stdout_read()
        assert remote.strip() == "git://127.0.0.1:9/x.git"


class _NoPython:
    """A sandbox whose commands find chmod but no python3, like a bare task image."""

    def __init__(self, sandbox: Sandbox, bin_dir: Path) -> None:
        self._sandbox = sandbox
        self._path = str(bin_dir)
        self.id = sandbox.id

    def write_files(self, files: dict[str, bytes | str]) -> None:
        self._sandbox.write_files(files)

    def exec(self, *args: str, **kwargs: Any) -> ExecResult:
        return self._sandbox.exec(*args, **{**kwargs, "env": {"PATH": self._path}})


def test_install_needs_python3_and_a_run_agent(plugins: PluginManager, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("chmod", "sh"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    session = MessagingSession(redis_url="redis://127.0.0.1:1#run:x")
    with get_backend("local", plugins).create_sandbox("ignored") as sandbox:
        with pytest.raises(UsageError, match="not one of the run's agents"):
            install_tools(sandbox, session, "agent3", AGENTS)
        with pytest.raises(MessagingError, match="needs python3"):
            install_tools(_NoPython(sandbox, bin_dir), session, "agent1", AGENTS)  # type: ignore[arg-type]
        # The command itself is in place and executable.
        listing = subprocess.run(
            ["ls", "-l", str(sandbox.host_path(f"{TOOLS_DIR}/coop-msg"))],  # type: ignore[attr-defined]
            capture_output=True,
            text=True,
        )
        assert listing.stdout.startswith("-rwxr-xr-x")


def test_install_finds_a_server_the_sandbox_cannot_reach(
    plugins: PluginManager, task: Path
) -> None:
    request = MessagingRequest(f"gone-{uuid.uuid4().hex[:6]}", AGENTS)
    with plugins.setup_messaging("local", request) as session:
        pass  # the server is stopped: agents could start, but never talk
    with (
        get_backend("local", plugins).create_sandbox("ignored", task_dir=task) as sandbox,
        pytest.raises(MessagingError, match="cannot reach the run's Redis server") as caught,
    ):
        install_tools(sandbox, session, "agent1", AGENTS)
    assert "coop-msg:" in str(caught.value)
