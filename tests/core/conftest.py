"""Fixtures for core tests: the demo dataset and a private copy of the demo logs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
DEMO_LOGS = ROOT / "examples" / "logs"


@pytest.fixture
def demo_dataset() -> Path:
    """The demo dataset (read-only)."""
    return DEMO_DATASET


@pytest.fixture
def demo_logs(tmp_path: Path) -> Path:
    """A writable copy of the demo logs without any earlier eval output."""
    target = tmp_path / "logs"
    shutil.copytree(
        DEMO_LOGS, target, ignore=shutil.ignore_patterns("eval.json", "eval_summary.json")
    )
    return target


@pytest.fixture
def dataset_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo dataset, for tests that alter a task."""
    target = tmp_path / "dataset"
    shutil.copytree(DEMO_DATASET, target)
    return target


# -- messaging: a real Redis server for the tests ---------------------------------------


@pytest.fixture
def coop_msg_script(tmp_path: Path) -> Path:
    """coop_msg.py copied away from the package, as install_tools ships it into sandboxes."""
    from cooperbench.messaging import coop_msg

    target = tmp_path / "coop-msg"
    shutil.copy(coop_msg.__file__, target)
    return target


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>`` of a private redis-server that lives for the session.

    Skips without redis-server, except in CI where its absence is a failure.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("redis")
    for _attempt in range(3):  # a probed free port can be taken before redis binds it
        port = _free_loopback_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(folder)]
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while server.poll() is None and time.monotonic() < deadline and not _redis_pings(port):
            time.sleep(0.02)
        if server.poll() is None and _redis_pings(port):
            break
        server.kill()
        server.wait()
    else:
        pytest.fail("could not start redis-server for the tests")
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- a bare machine: only Python and git -------------------------------------------------

#: Where a machine's own programs live; a bare machine's PATH is built from these only.
SYSTEM_BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
#: Programs a bare machine lacks: any Python (one without packages is added back), pytest,
#: pip and Redis.
_NOT_ON_A_BARE_MACHINE = ("python", "pytest", "py.test", "pip", "redis-")


@pytest.fixture
def bare_machine_path(tmp_path: Path) -> str:
    """A PATH like a fresh machine's: the system's programs, no Redis server, and a
    ``python3`` (a virtual environment without packages) that cannot import pytest."""
    bare = tmp_path / "bare-python"
    venv.create(bare, with_pip=False)
    tools = tmp_path / "bare-bin"
    tools.mkdir()
    for folder in map(Path, SYSTEM_BIN_DIRS):
        if not folder.is_dir():
            continue
        for program in folder.iterdir():
            name = program.name
            if name.startswith(_NOT_ON_A_BARE_MACHINE) or (tools / name).exists():
                continue
            if program.is_file() and os.access(program, os.X_OK):
                (tools / name).symlink_to(program)
    for name in ("python3", "python"):
        # A script, not a link: a virtual environment's interpreter started through a
        # link elsewhere would not find its pyvenv.cfg and be the base interpreter.
        (tools / name).write_text(f'#!/bin/sh\nexec "{bare}/bin/python3" "$@"\n')
        (tools / name).chmod(0o755)
    path = str(tools)
    assert shutil.which("redis-server", path=path) is None
    check = [shutil.which("python3", path=path) or "python3", "-c", "import pytest"]
    done = subprocess.run(check, capture_output=True)
    assert done.returncode != 0, "the bare machine's python3 must not have pytest"
    return path
