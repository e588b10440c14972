"""``cooperbench cleanup --backend local``: dead runs' folders go, everything else stays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cooperbench import labels as cb_labels

CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def make_folder(temp: Path, name: str, labels: dict[str, str] | None) -> Path:
    folder = temp / name
    (folder / "workspace").mkdir(parents=True)
    if labels is not None:
        (folder / ".cooperbench-labels.json").write_text(json.dumps(labels))
    return folder


def cleanup(temp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(temp)}
    command = [*CLI, "cleanup", "--backend", "local", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_only_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = {**cb_labels.owner_labels(run="gone"), cb_labels.OWNER_PID: str(dead_pid())}
    leftovers = [
        make_folder(tmp_path, "cooperbench-local-dead1", {**dead, cb_labels.PURPOSE: "agent"}),
        make_folder(tmp_path, "cooperbench-redis-gone-x1", {**dead, cb_labels.PURPOSE: "redis"}),
        make_folder(tmp_path, "cooperbench-git-gone-x2", {**dead, cb_labels.PURPOSE: "git"}),
    ]
    kept = [
        make_folder(tmp_path, "cooperbench-local-alive", cb_labels.owner_labels(run="live")),
        make_folder(tmp_path, "cooperbench-local-nolabels", None),
        make_folder(tmp_path, "cooperbench-local-unmanaged", {cb_labels.RUN: "x"}),
        make_folder(tmp_path, "cooperbench-local-elsewhere", {**dead, cb_labels.OWNER_HOST: "far"}),
        make_folder(tmp_path, "someone-else", dead),
    ]
    listed = cleanup(tmp_path, "--dry-run")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert sorted(lines[:-1]) == sorted(f"would remove folder {f} (run gone)" for f in leftovers)
    assert lines[-1] == "3 leftover resource(s) would be removed on local"
    assert all(folder.is_dir() for folder in leftovers + kept)
    removed = cleanup(tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines()[-1] == "3 leftover resource(s) removed on local"
    assert not any(folder.exists() for folder in leftovers)
    assert all(folder.is_dir() for folder in kept)


def test_sandboxes_label_their_folder_with_this_process_as_owner() -> None:
    from cooperbench import get_backend

    labels = {cb_labels.RUN: "exp", cb_labels.OWNER_PID: "1"}
    with get_backend("local").create_sandbox("img", labels=labels) as sandbox:
        written = json.loads((sandbox.root / ".cooperbench-labels.json").read_text())
    assert written[cb_labels.MANAGED] == "true"
    assert written[cb_labels.OWNER_PID] == str(os.getpid())
    assert written[cb_labels.RUN] == "exp"
    assert written["image"] == "img"


def test_cleanup_does_not_need_what_runs_tasks(tmp_path: Path) -> None:
    """A host whose python3 lacks pytest cannot run tasks, but its leftovers still go."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    no_pytest = bin_dir / "python3"
    no_pytest.write_text("#!/bin/sh\nexit 1\n")
    no_pytest.chmod(0o755)
    temp = tmp_path / "tmp"
    dead = {**cb_labels.owner_labels(run="gone"), cb_labels.OWNER_PID: str(dead_pid())}
    leftover = make_folder(temp, "cooperbench-local-dead2", dead)
    env = {**os.environ, "TMPDIR": str(temp), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run([*CLI, "cleanup"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert f"removed folder {leftover} (run gone)" in done.stdout.splitlines()
    assert not leftover.exists()
