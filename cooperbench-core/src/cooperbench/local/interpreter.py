"""Which Python the ``local`` backend's commands get as ``python3``.

Task images ship a ``python3`` that can run the task's tests; on the host, the
``python3`` on ``PATH`` may lack pytest (a bare machine, a system Python that the
package manager guards). The local backend therefore picks, once per process:

1. the host's ``python3`` on ``PATH``, when it can import pytest: commands run as they
   would in a shell, with nothing added;
2. otherwise the harness's own interpreter, when it can import pytest (cooperbench
   installed with its ``testing`` extra, as ``scripts/demo`` does): every sandbox gets
   ``python3`` and ``python`` first on its ``PATH``, small scripts that run that
   interpreter;
3. otherwise none: the self-check refuses the backend, saying what to install.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import attrs

#: The names a task runner calls the interpreter by.
PYTHON_NAMES = ("python3", "python")
_IMPORT_CHECK_SECONDS = 60


@attrs.frozen
class RunnerPython:
    """The interpreter commands get, or why there is none.

    ``executable`` is ``None`` when no candidate can import pytest; ``shim`` is true
    when it is not the ``python3`` on ``PATH`` and sandboxes need ``python3``/``python``
    scripts that run it.
    """

    executable: str | None
    shim: bool
    path_python: str | None
    harness_python: str | None

    def problem(self) -> str | None:
        """What to install when no candidate has pytest (``None`` when one does)."""
        if self.executable is not None:
            return None
        candidates = [p for p in (self.path_python, self.harness_python) if p is not None]
        # Install into the harness's interpreter first: it needs no change to the
        # system Python, which distributions often guard against pip.
        target = self.harness_python or self.path_python
        names = " or ".join(dict.fromkeys(candidates)) or "python3"
        return f"pytest for {names} ({target} -m pip install pytest)"


def runner_python(path: str | None = None, harness: str | None = None) -> RunnerPython:
    """Pick the interpreter for ``path`` (default ``$PATH``) and ``harness`` (ours)."""
    search = os.environ.get("PATH", os.defpath) if path is None else path
    own = (sys.executable or None) if harness is None else harness
    return _pick(search, own)


@functools.lru_cache(maxsize=8)
def _pick(search: str, harness: str | None) -> RunnerPython:
    on_path = shutil.which("python3", path=search)
    if on_path is not None and imports_pytest(on_path):
        return RunnerPython(on_path, False, on_path, harness)
    if harness and os.access(harness, os.X_OK) and imports_pytest(harness):
        return RunnerPython(harness, True, on_path, harness)
    return RunnerPython(None, False, on_path, harness)


def imports_pytest(python: str) -> bool:
    """True when ``python`` runs and can import pytest."""
    try:
        done = subprocess.run(
            [python, "-c", "import pytest"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_IMPORT_CHECK_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def install_shims(bin_dir: Path, python: str) -> None:
    """Write ``python3`` and ``python`` scripts into ``bin_dir`` that run ``python``.

    Scripts rather than symlinks: a virtual environment's interpreter finds its
    packages through the path it was started by, which a symlink elsewhere would lose.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in PYTHON_NAMES:
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(python)} "$@"\n')
        shim.chmod(0o755)
