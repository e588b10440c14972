"""The CLI shell: version, backends, one-line errors, lazy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cooperbench

HEAVY_SDKS = ("docker", "modal", "google", "redis")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "from cooperbench.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert cooperbench.__version__ in done.stdout


def test_backends_lists_local_as_usable() -> None:
    done = run_cli("backends", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["local"]["state"] == "usable"
    assert rows["local"]["distribution"] == "cooperbench-core"
    assert rows["local"]["version"] == cooperbench.__version__


def test_backends_table_shows_disabled_plugins() -> None:
    done = run_cli("backends", env={"COOPERBENCH_DISABLED_PLUGINS": "local"})
    assert done.returncode == 0
    line = next(line for line in done.stdout.splitlines() if line.startswith("local"))
    assert "disabled" in line


def test_bad_command_is_one_line_exit_2() -> None:
    done = run_cli("no-such-command")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr


def test_bad_flag_is_one_line_exit_2() -> None:
    done = run_cli("backends", "--bogus")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--bogus" in done.stderr


def test_help_imports_no_sdk() -> None:
    probe = (
        "import sys\n"
        "from cooperbench.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY_SDKS!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
