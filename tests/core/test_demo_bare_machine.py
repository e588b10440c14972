"""`scripts/demo` on a machine with only Python and git: no redis-server, no system pytest.

The demo makes its own virtual environment (cooperbench-core with its ``testing``
extra), messaging falls back to an embedded Redis-compatible server, and the local
backend runs the demo's tests with the environment's interpreter. The verdicts must be
the designed ones: 7 of 8 pairs pass, ``demo_ledger_task`` 3,4 fails after union merging.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from docs_blocks import fresh_checkout

#: Variables of the test's own environment that would leak its interpreter into the demo.
_HARNESS_VARIABLES = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX", "UV_PYTHON")


@pytest.mark.slow
def test_demo_passes_with_only_python_and_git(tmp_path: Path, bare_machine_path: str) -> None:
    checkout = fresh_checkout(tmp_path / "cooperbench")
    env = {k: v for k, v in os.environ.items() if k not in _HARNESS_VARIABLES}
    env["PATH"] = bare_machine_path
    done = subprocess.run(
        ["scripts/demo"], cwd=checkout, env=env, capture_output=True, text=True, timeout=900
    )
    output = done.stdout + done.stderr
    if "redis-server" in output and done.returncode != 0:
        pytest.fail(
            "messaging needs a Redis server and found none: without redis-server the local "
            f"backend must start its embedded one.\n{output[-4000:]}"
        )
    assert done.returncode == 0, output[-4000:]

    run = checkout / "logs" / "demo-gold"
    summary = json.loads((run / "eval_summary.json").read_text())
    assert (summary["passed"], summary["failed"], summary["errors"]) == (7, 1, 0), output
    failed = [r["run"] for r in summary["results"] if r["status"] == "failed"]
    assert failed == ["demo_ledger_task/7/3,4"]
    # The agents really talked: each announced its files to its partner.
    for result in (run / "coop").rglob("result.json"):
        assert json.loads(result.read_text())["messages_sent"] >= 2, result
    assert (checkout / ".venv-demo" / "bin" / "pytest").exists()
