"""The pytest report plugin, run through the exact test-step command a sandbox runs.

A real pytest on a small test file, with the plugin loaded as evaluation loads it: the
report comes back after the boundary line and keeps each test's outcome and message,
whatever characters the message holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from cooperbench.evaluation.steps import _RUN_TESTS, PLUGIN
from cooperbench.evaluation.testresults import parse_junit

BOUNDARY = "cooperbench-report-0123456789abcdef"
TESTS = """
def test_ok():
    pass


def test_bad():
    assert False, "a&b <c> \\"d\\" 'e' \\x1b[31mred\\x1b[0m\\ttab\\r\\nnext line"
"""


def _stage(tmp_path: Path) -> tuple[Path, Path, Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "test_marks.py").write_text(TESTS)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    source = resources.files("cooperbench.evaluation").joinpath(f"{PLUGIN}.py")
    (plugins / f"{PLUGIN}.py").write_bytes(source.read_bytes())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    runner = bin_dir / "runner.sh"
    runner.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pytest -q -p no:cacheprovider "$@"\n')
    runner.chmod(0o755)
    return repo, plugins, bin_dir


def test_report_keeps_outcomes_and_messages_exactly(tmp_path: Path) -> None:
    repo, plugins, bin_dir = _stage(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        ["sh", "-c", _RUN_TESTS, "runner.sh", str(plugins), BOUNDARY, "test_marks.py"],
        cwd=repo,
        env=env,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    output, _, report = done.stdout.partition(f"\n{BOUNDARY}\n".encode())
    assert report.startswith(b"started\n"), done.stdout
    cases = parse_junit(report.removeprefix(b"started\n"))
    assert cases is not None
    assert [(case.test_name, case.status) for case in cases] == [
        ("test_marks::test_ok", "passed"),
        ("test_marks::test_bad", "failed"),
    ]
    message = cases[1].error or ""
    # Escaped on the way in, intact on the way out; terminal colour codes are dropped.
    assert "a&b <c> \"d\" 'e' [31mred[0m\ttab" in message
    assert "next line" in message
    assert "\x1b" not in message
    assert b"1 failed, 1 passed" in output


def test_plugin_imports_only_light_modules(tmp_path: Path) -> None:
    # Loaded on every test run of every pair: importing, say, xml.sax.saxutils would
    # pull in urllib and http and cost each run about 10 ms.
    _repo, plugins, _bin = _stage(tmp_path)
    probe = (
        "import sys; before = set(sys.modules); import cooperbench_report; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(plugins), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(done.stdout.split())
    heavy = {name for name in loaded if name.split(".")[0] in {"xml", "urllib", "http", "email"}}
    assert not heavy, f"the report plugin imports {sorted(heavy)}"
