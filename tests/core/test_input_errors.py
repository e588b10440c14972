"""Small input mistakes end in one readable line and a non-zero exit, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]

MALFORMED_SUBSETS = {
    "not json": "subset file {path} is not readable JSON",
    "[1, 2]": 'subset file {path} is malformed: expected {{"tasks": [...]}}',
    '{"tasks": 5}': 'subset file {path} is malformed: expected {{"tasks": [...]}}',
    '{"tasks": ["s"]}': "subset file {path} is malformed: tasks[0] must be an object",
    '{"tasks": [{"task_id": 0}]}': "subset file {path} is malformed: tasks[0] needs a repo name",
    '{"tasks": [{"repo": "r"}]}': "subset file {path} is malformed: tasks[0] needs an integer task_id",
    '{"tasks": [{"repo": "r", "task_id": "abc"}]}': "tasks[0] has task_id 'abc', not an integer",
    '{"tasks": [{"repo": "r", "task_id": 0, "pairs": [5]}]}': "tasks[0] has pairs that are not",
    '{"tasks": [{"repo": "r", "task_id": 0, "pairs": [[1, "x"]]}]}': "tasks[0] has pairs that",
}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("content", sorted(MALFORMED_SUBSETS))
def test_a_malformed_subset_file_is_one_line(
    content: str, dataset_copy: Path, demo_logs: Path, tmp_path: Path
) -> None:
    path = dataset_copy / "subsets" / "bad.json"
    path.write_text(content)
    expected = MALFORMED_SUBSETS[content].format(path=path)
    for command in (["eval", "-n", "gold"], ["run", "--no-auto-eval"]):
        done = cli(
            *command,
            "-s",
            "bad",
            "--dataset-dir",
            str(dataset_copy),
            "--log-dir",
            str(demo_logs),
            cwd=tmp_path,
        )
        assert expected in one_error_line(done)


def test_eval_of_features_that_do_not_exist_is_one_line(
    demo_dataset: Path, demo_logs: Path, tmp_path: Path
) -> None:
    common = ["--dataset-dir", str(demo_dataset), "--log-dir", str(demo_logs)]
    line = one_error_line(cli("eval", "-n", "gold", "-t", "0", "-f", "1,9", *common, cwd=tmp_path))
    assert line == "error: demo_textkit_task task 0 has no feature 9 (features: 1, 2, 3, 4)"
    line = one_error_line(cli("eval", "-n", "gold", "-f", "1,9", *common, cwd=tmp_path))
    assert line == f"error: no task in {demo_dataset} has features 1,9; check -f"
    assert not list(demo_logs.rglob("eval*.json"))


@pytest.mark.parametrize("name", ["/tmp", "..", "../gold", "a/b", "."])
def test_eval_rejects_run_names_that_are_paths(
    name: str, demo_dataset: Path, demo_logs: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(demo_logs / "gold", outside / "gold")
    done = cli(
        "eval",
        "-n",
        name,
        "--dataset-dir",
        str(demo_dataset),
        "--log-dir",
        str(demo_logs),
        cwd=outside,
    )
    assert one_error_line(done) == (
        f"error: bad run name {name!r}: use a plain folder name such as 'exp1'"
    )
    assert not list(outside.rglob("eval*.json")) and not list(demo_logs.rglob("eval*.json"))
