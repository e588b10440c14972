"""What the ``local`` backend needs on the host before any work starts.

Task runners run on the host: the demo's ``runner.sh`` is a bash script that resets the
repository with git and runs the tests with ``python3 -m pytest``. A host without them
would fail every pair at evaluation time, after the agents' work, so the self-check
refuses the backend up front instead. ``python3`` is the one
:mod:`cooperbench.local.interpreter` picks: the host's when it has pytest, else the
harness's own.
"""

from __future__ import annotations

import os
import shutil

from cooperbench.local.interpreter import runner_python

# (program, what to do when it is missing)
_PROGRAMS = (
    ("sh", "a POSIX shell (sh)"),
    ("bash", "bash (apt-get install bash)"),
    ("git", "git (apt-get install git)"),
)


def missing_requirements(path: str | None = None, harness: str | None = None) -> list[str]:
    """What is missing on ``path`` (default: ``$PATH``), each saying what to install.

    ``harness`` is the harness's interpreter (default: the running one), which task
    runners use when the host's ``python3`` lacks pytest.
    """
    search = os.environ.get("PATH", os.defpath) if path is None else path
    missing = [hint for program, hint in _PROGRAMS if shutil.which(program, path=search) is None]
    python = runner_python(search, harness)
    if python.path_python is None and python.executable is None:
        missing.append("python3 (apt-get install python3)")
    problem = python.problem()
    if problem is not None:
        missing.append(problem)
    return missing
