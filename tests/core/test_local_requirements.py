"""The local backend's self-check: what task runners need must be on the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
DATASET = Path(__file__).resolve().parents[2] / "examples" / "dataset"


def tools_dir(tmp_path: Path, *names: str) -> Path:
    """A folder holding links to the host's ``names``, to build a restricted PATH from."""
    folder = tmp_path / "tools"
    folder.mkdir()
    for name in names:
        found = shutil.which(name)
        assert found is not None, f"{name} is needed to run this test"
        (folder / name).symlink_to(found)
    return folder


def backends_check(path: str, logs: Path) -> subprocess.CompletedProcess[str]:
    """A solo gold run of one pair on ``local`` (it checks the backend before any work)."""
    env = {**os.environ, "PATH": path}
    command = [*CLI, "run", "-n", "check", "--setting", "solo", "-t", "0", "-f", "1,2"]
    command += ["--backend", "local", "--dataset-dir", str(DATASET), "--log-dir", str(logs)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_python_without_pytest_is_one_line_saying_what_to_install(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)  # a real python3 that has no pytest
    tools = tools_dir(tmp_path, "sh", "bash", "git")
    done = backends_check(f"{tools}:{bare / 'bin'}", tmp_path / "logs")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "logs" / "check").exists()  # refused before any work
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: backend 'local' cannot work here: missing on the host: ")
    assert "pytest for " in line and "-m pip install pytest" in line


def test_missing_git_and_python_are_named(tmp_path: Path) -> None:
    tools = tools_dir(tmp_path, "sh", "bash")
    done = backends_check(str(tools), tmp_path / "logs")
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert "git (apt-get install git)" in line and "python3 (apt-get install python3)" in line


def test_a_complete_host_is_usable(tmp_path: Path) -> None:
    done = backends_check(os.environ["PATH"], tmp_path / "logs")
    assert done.returncode == 0, done.stderr
