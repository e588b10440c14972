"""Materialize a dataset task on the host the way its Dockerfile would in an image.

The local backend cannot run a Dockerfile, so it supports tasks that ship their
repository source in the task folder (``<task>/repo/``): it copies the source to
``<root>/workspace/repo``, makes the base commit there, and installs ``runner.sh`` where
the image would have it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from cooperbench import sandbox_paths
from cooperbench.errors import SandboxError

# The sandbox paths, relative to the local sandbox's private root.
REPO_DIR = sandbox_paths.REPO_DIR.lstrip("/")
RUNNER_DIR = sandbox_paths.RUNNER_DIR.lstrip("/")
PATCHES_DIR = sandbox_paths.PATCHES_DIR.lstrip("/")

# A fixed identity and date make the base commit reproducible and independent of the
# user's git configuration.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "cooperbench",
    "GIT_AUTHOR_EMAIL": "cooperbench@localhost",
    "GIT_COMMITTER_NAME": "cooperbench",
    "GIT_COMMITTER_EMAIL": "cooperbench@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


def materialize_task(task_dir: Path, root: Path) -> None:
    """Lay out ``task_dir`` under ``root`` as its task image would have it."""
    source = task_dir / "repo"
    if not source.is_dir():
        raise SandboxError(
            f"task {task_dir} has no repo/ folder, which the local backend needs to build "
            "the workspace without Docker; use a container backend such as --backend docker"
        )
    repo = root / REPO_DIR
    shutil.copytree(source, repo, symlinks=True)
    _make_base_commit(repo)
    runner = task_dir / "runner.sh"
    if runner.is_file():
        bin_dir = root / RUNNER_DIR
        bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(runner, bin_dir / "runner.sh")
        (bin_dir / "runner.sh").chmod(0o755)
    (root / PATCHES_DIR).mkdir(parents=True, exist_ok=True)


def _make_base_commit(repo: Path) -> None:
    env = {**os.environ, **_GIT_ENV}
    for args in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", "base"],
    ):
        done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SandboxError(f"could not prepare {repo}: {' '.join(args)}: {done.stderr.strip()}")
