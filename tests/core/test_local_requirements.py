"""The local backend's self-check and its interpreter: what task runners need must be there.

A host whose ``python3`` lacks pytest still works when the harness's own interpreter has
it (sandboxes then get that one as ``python3``); only when neither has pytest is the
backend refused, with one line saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from cooperbench.local import LocalSandbox
from cooperbench.local.interpreter import imports_pytest, runner_python
from cooperbench.local.requirements import missing_requirements
from cooperbench.sandbox import SandboxRequest

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"


def tools_dir(tmp_path: Path, *names: str) -> Path:
    """A folder holding links to the host's ``names``, to build a restricted PATH from."""
    folder = tmp_path / "tools"
    folder.mkdir()
    for name in names:
        found = shutil.which(name)
        assert found is not None, f"{name} is needed to run this test"
        (folder / name).symlink_to(found)
    return folder


@pytest.fixture
def bare_python(tmp_path: Path) -> Path:
    """A real python3 that has no pytest: a virtual environment without packages."""
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    assert not imports_pytest(str(bare / "bin" / "python3"))
    return bare / "bin"


@pytest.fixture(scope="module")
def harness_without_pytest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding cooperbench-core but not pytest (no testing extra)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the test environment (pip install uv)")
    env = tmp_path_factory.mktemp("harness") / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(env)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", env / "bin" / "python", ROOT / "cooperbench-core"],
        check=True,
    )
    assert not imports_pytest(str(env / "bin" / "python"))
    return env


def solo_run(python: Path | str, path: str, logs: Path) -> subprocess.CompletedProcess[str]:
    """A solo gold run of one pair on ``local`` (it checks the backend before any work)."""
    env = {**os.environ, "PATH": path}
    command = [str(python), "-c", "from cooperbench.cli.main import main; main()"]
    command += ["run", "-n", "check", "--setting", "solo", "-t", "0", "-f", "1,2"]
    command += ["--backend", "local", "--dataset-dir", str(DATASET), "--log-dir", str(logs)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


# -- which interpreter ---------------------------------------------------------------


def test_the_hosts_python3_is_used_as_it_is_when_it_has_pytest(tmp_path: Path) -> None:
    tools = tools_dir(tmp_path, "python3")
    assert imports_pytest(str(tools / "python3"))
    chosen = runner_python(str(tools), harness=sys.executable)
    assert chosen.executable == str(tools / "python3")
    assert chosen.shim is False and chosen.problem() is None


def test_the_harness_interpreter_stands_in_for_a_python3_without_pytest(
    bare_python: Path,
) -> None:
    chosen = runner_python(str(bare_python), harness=sys.executable)
    assert chosen.executable == sys.executable
    assert chosen.shim is True and chosen.problem() is None
    assert missing_requirements(f"{bare_python}:{os.environ['PATH']}", sys.executable) == []


def test_no_interpreter_with_pytest_names_both_and_the_command(bare_python: Path) -> None:
    harness = str(bare_python / "python")
    chosen = runner_python(str(bare_python), harness=harness)
    assert chosen.executable is None
    problem = chosen.problem()
    assert problem == (
        f"pytest for {bare_python / 'python3'} or {harness} ({harness} -m pip install pytest)"
    )


def test_sandbox_commands_get_an_interpreter_with_pytest(
    bare_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tools_dir(tmp_path, "sh", "bash", "git", "env")
    monkeypatch.setenv("PATH", f"{tools}:{bare_python}")
    request = SandboxRequest(image="ignored", task_dir=str(DATASET / "demo_textkit_task" / "task0"))
    with LocalSandbox.create(request) as sandbox:
        for name in ("python3", "python"):
            done = sandbox.exec(name, "-c", "import pytest, sys; print(sys.executable)")
            assert done.returncode == 0, done.stderr_read()
            assert done.stdout_read().strip() == sys.executable
        # The task's runner finds pytest through it: the demo's tests run.
        sandbox.write_file("/patches/empty.patch", "")
        done = sandbox.exec("runner.sh", "empty.patch", timeout=120)
        assert done.returncode == 0, done.stdout_read() + done.stderr_read()
        assert " passed" in done.stdout_read()


def test_a_python3_with_pytest_gets_no_stand_in(tmp_path: Path) -> None:
    tools = tools_dir(tmp_path, "python3")
    request = SandboxRequest(image="ignored")
    with LocalSandbox.create(request) as sandbox:
        assert not (sandbox.root / "usr" / "local" / "bin" / "python3").exists()
        done = sandbox.exec(str(tools / "python3"), "-c", "import pytest")
        assert done.returncode == 0


# -- the self-check, through the command line ----------------------------------------


def test_no_python_with_pytest_is_one_line_saying_what_to_install(
    tmp_path: Path, bare_python: Path, harness_without_pytest: Path
) -> None:
    tools = tools_dir(tmp_path, "sh", "bash", "git")
    harness = harness_without_pytest / "bin" / "python"
    done = solo_run(harness, f"{tools}:{bare_python}", tmp_path / "logs")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "logs" / "check").exists()  # refused before any work
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: backend 'local' cannot work here: missing on the host: ")
    assert f"pytest for {bare_python / 'python3'} or {harness} " in line
    assert f"({harness} -m pip install pytest)" in line


def test_missing_git_and_python_are_named(tmp_path: Path, harness_without_pytest: Path) -> None:
    tools = tools_dir(tmp_path, "sh", "bash")
    done = solo_run(harness_without_pytest / "bin" / "python", str(tools), tmp_path / "logs")
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert "git (apt-get install git)" in line and "python3 (apt-get install python3)" in line


def test_a_bare_python3_works_when_the_harness_has_pytest(
    tmp_path: Path, bare_machine_path: str
) -> None:
    done = solo_run(sys.executable, bare_machine_path, tmp_path / "logs")
    assert done.returncode == 0, done.stderr
    assert "eval demo_textkit_task/0/1,2 (solo): passed" in done.stdout + done.stderr


def test_a_complete_host_is_usable(tmp_path: Path) -> None:
    done = solo_run(sys.executable, os.environ["PATH"], tmp_path / "logs")
    assert done.returncode == 0, done.stderr
