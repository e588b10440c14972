"""What the ``local`` backend needs on the host before any work starts.

Task runners run on the host with the sandbox's ``PATH`` (the host's): the demo's
``runner.sh`` is a bash script that resets the repository with git and runs the tests
with ``python3 -m pytest``. A host without them would fail every pair at evaluation
time, after the agents' work, so the self-check refuses the backend up front instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess

# (program, what to do when it is missing)
_PROGRAMS = (
    ("sh", "a POSIX shell (sh)"),
    ("bash", "bash (apt-get install bash)"),
    ("git", "git (apt-get install git)"),
    ("python3", "python3 (apt-get install python3)"),
)
_PYTEST_CHECK_SECONDS = 60


def missing_requirements(path: str | None = None) -> list[str]:
    """What is missing on ``path`` (default: ``$PATH``), each saying what to install."""
    search = os.environ.get("PATH", os.defpath) if path is None else path
    missing = [hint for program, hint in _PROGRAMS if shutil.which(program, path=search) is None]
    python = shutil.which("python3", path=search)
    if python is not None and not _imports_pytest(python):
        missing.append(f"pytest for {python} ({python} -m pip install pytest)")
    return missing


def _imports_pytest(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import pytest"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PYTEST_CHECK_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
