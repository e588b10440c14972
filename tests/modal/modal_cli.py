"""Running the cooperbench CLI on the modal backend, as the user does, and reading its errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
DEMO_LOGS = ROOT / "examples" / "logs"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def eval_command(logs: Path, *extra: str) -> list[str]:
    """``cooperbench eval`` of the demo gold run in ``logs`` on modal."""
    command = [*CLI, "eval", "-n", "gold", "--backend", "modal", "--log-dir", str(logs)]
    return [*command, "--dataset-dir", str(DEMO_DATASET), *extra]


def copy_logs(tmp_path: Path) -> Path:
    """A copy of the demo gold run without eval output; returns its logs folder."""
    logs = tmp_path / "logs"
    shutil.copytree(DEMO_LOGS / "gold", logs / "gold", ignore=shutil.ignore_patterns("eval*.json"))
    return logs


def assert_one_line(stderr: str, *needles: str) -> None:
    """``stderr`` is one ``error:`` line, with no traceback, holding every needle."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], stderr
