#!/usr/bin/env python3
"""Check the demo dataset in examples/dataset with real git and pytest.

For every task this verifies the layout, that the base tests pass, that each
feature's hidden tests fail without its gold patch and pass with it, and that
every feature pair merges the way the task was designed to (clean, conflict
resolved by a union merge, or conflict that a union merge turns into broken
code). Pairs are scored with the same procedure the harness uses; that
procedure lives here so check_expected.py and make_demo_logs.py can reuse it.

Usage: python3 examples/verify_dataset.py [--dataset DIR]
Prints one line per check and exits non-zero if any check fails.
Needs only the standard library, git and ``python3 -m pytest``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
DATASET = EXAMPLES / "dataset"

# Fixed identity and dates so base commits (and therefore patch index lines
# and merge results) are the same on every machine.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "cooperbench",
    "GIT_AUTHOR_EMAIL": "cooperbench@localhost",
    "GIT_COMMITTER_NAME": "cooperbench",
    "GIT_COMMITTER_EMAIL": "cooperbench@localhost",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

# How each feature pair of a task is designed to behave with gold patches:
# (merge status, merge strategy, both features pass). Pairs not listed merge
# cleanly and pass.
PAIR_DESIGN = {
    (1, 3): ("conflicts", "union", True),
    (3, 4): ("conflicts", "union", False),
}
DEFAULT_DESIGN = ("clean", "naive", True)


# --------------------------------------------------------------------------- git


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run git in cwd with the fixed identity; raise on failure when check is set."""
    env = {**os.environ, **GIT_ENV}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{proc.stdout}{proc.stderr}")
    return proc


def init_base_repo(src: Path, dest: Path) -> str:
    """Copy a task's repo/ to dest, make the base commit there and return its SHA."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "base")
    return git(dest, "rev-parse", "HEAD").stdout.strip()


def is_test_path(path: str) -> bool:
    """True for files the harness treats as tests and drops from agent patches."""
    parts = path.split("/")
    name = parts[-1]
    return (
        "tests" in parts[:-1]
        or "test" in parts[:-1]
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
    )


def patch_paths(patch: str) -> list[str]:
    """Paths (b/ side) named by the ``diff --git`` headers of a patch."""
    return [m.group(1) for m in re.finditer(r"^diff --git a/\S+ b/(\S+)$", patch, re.M)]


def filter_test_files(patch: str) -> str:
    """Remove the per-file sections of a patch that edit test files."""
    if not patch:
        return patch
    kept: list[str] = []
    skipping = False
    for line in patch.splitlines(keepends=True):
        header = re.match(r"diff --git a/(\S+) b/(\S+)", line)
        if header:
            skipping = is_test_path(header.group(1)) or is_test_path(header.group(2))
        if not skipping:
            kept.append(line)
    text = "".join(kept)
    if text and not text.endswith("\n"):
        text += "\n"
    return text if text.strip() else ""


def apply_patch(repo: Path, patch_file: Path) -> str:
    """Apply a patch file in repo: 'applied', 'skipped' (empty) or 'failed'."""
    if not patch_file.exists() or patch_file.stat().st_size == 0:
        return "skipped"
    if git(repo, "apply", str(patch_file), check=False).returncode == 0:
        return "applied"
    if git(repo, "apply", "--3way", str(patch_file), check=False).returncode == 0:
        return "applied"
    # Leave nothing half-applied behind: the branch stays at the base commit.
    git(repo, "reset", "--hard", "-q")
    git(repo, "clean", "-fdq")
    return "failed"


# ------------------------------------------------------------------------ runner


@dataclass
class TestRun:
    """Outcome of one runner.sh invocation."""

    exit_code: int
    passed: int
    failed: int
    output: str

    @property
    def ok(self) -> bool:
        """A feature passes when the runner exits 0 and at least one test passed."""
        return self.exit_code == 0 and self.passed > 0


def count_junit(path: Path) -> tuple[int, int]:
    """(passed, failed-or-errored) test counts from a pytest JUnit XML report."""
    if not path.exists():
        return 0, 0
    passed = failed = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            failed += 1
        elif "skipped" not in tags:
            passed += 1
    return passed, failed


def run_runner(task_dir: Path, tests_patch: str, feature_patch: str | None = None) -> TestRun:
    """Run the task's runner.sh in a fresh host sandbox (SANDBOX_ROOT) at the base commit."""
    with tempfile.TemporaryDirectory(prefix="cb-run-") as tmp:
        root = Path(tmp)
        init_base_repo(task_dir / "repo", root / "workspace" / "repo")
        (root / "patches").mkdir()
        (root / "patches" / "tests.patch").write_text(tests_patch)
        args = ["bash", str(task_dir / "runner.sh"), "tests.patch"]
        if feature_patch is not None:
            (root / "patches" / "feature.patch").write_text(feature_patch)
            args.append("feature.patch")
        junit = root / "junit.xml"
        env = {
            **os.environ,
            **GIT_ENV,
            "SANDBOX_ROOT": str(root),
            "PYTEST_ADDOPTS": f"--junitxml={junit}",
        }
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        passed, failed = count_junit(junit)
        return TestRun(proc.returncode, passed, failed, proc.stdout + proc.stderr)


# ----------------------------------------------------------------------- scoring


@dataclass
class Verdict:
    """What the harness must report for one pair (the fields of expected.json)."""

    apply_status: dict[str, str]
    merge_status: str | None
    merge_strategy: str | None
    feature1: TestRun
    feature2: TestRun
    merged_parses: bool | None = None
    notes: list[str] = field(default_factory=list)

    def as_expected(self) -> dict:
        """The verdict in the expected.json schema."""
        return {
            "apply_status": self.apply_status,
            "merge_status": self.merge_status,
            "merge_strategy": self.merge_strategy,
            "feature1_passed": self.feature1.ok,
            "feature2_passed": self.feature2.ok,
            "both_passed": self.feature1.ok and self.feature2.ok,
        }


def python_files_parse(repo: Path, base_sha: str) -> bool:
    """True when every .py file changed since base_sha compiles."""
    changed = git(repo, "diff", "--name-only", base_sha, "HEAD").stdout.split()
    for name in changed:
        path = repo / name
        if name.endswith(".py") and path.exists():
            try:
                compile(path.read_text(), name, "exec")
            except SyntaxError:
                return False
    return True


def merge_branches(task_dir: Path, patch1: str, patch2: str) -> tuple[dict, str, str, str, bool]:
    """Steps 1-3 of coop scoring. Returns (apply_status, status, strategy, merged diff, parses)."""
    with tempfile.TemporaryDirectory(prefix="cb-merge-") as tmp:
        repo = Path(tmp) / "repo"
        base = init_base_repo(task_dir / "repo", repo)
        status: dict[str, str] = {}
        for index, patch in ((1, patch1), (2, patch2)):
            patch_file = Path(tmp) / f"patch{index}.patch"
            patch_file.write_text(filter_test_files(patch))
            git(repo, "checkout", "-q", base)
            git(repo, "checkout", "-q", "-b", f"agent{index}")
            status[f"agent{index}"] = apply_patch(repo, patch_file)
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "--allow-empty", "-m", f"agent{index}")
        git(repo, "checkout", "-q", "agent2")
        strategy = "naive"
        merged = git(repo, "merge", "--no-ff", "--no-commit", "agent1", check=False).returncode == 0
        conflicted = not merged
        if conflicted:
            git(repo, "merge", "--abort", check=False)
            attributes = repo / ".git" / "info" / "attributes"
            attributes.parent.mkdir(parents=True, exist_ok=True)
            attributes.write_text("* merge=union\n")
            strategy = "union"
            merged = (
                git(repo, "merge", "--no-ff", "--no-commit", "agent1", check=False).returncode == 0
            )
            attributes.unlink()
        if not merged:
            git(repo, "merge", "--abort", check=False)
            return status, "error", strategy, "", False
        git(repo, "commit", "-q", "--allow-empty", "-m", "merge")
        diff = git(repo, "diff", base, "HEAD").stdout
        parses = python_files_parse(repo, base)
        if "failed" in status.values():
            merge_status = "missing_input"
        elif conflicted:
            merge_status = "conflicts"
        else:
            merge_status = "clean"
        return status, merge_status, strategy, diff, parses


def score_coop(task_dir: Path, fa: int, fb: int, patch_a: str, patch_b: str) -> Verdict:
    """Score a coop pair: agent1 implements feature fa, agent2 feature fb (fa < fb)."""
    status, merge_status, strategy, diff, parses = merge_branches(task_dir, patch_a, patch_b)
    if merge_status == "error":
        empty = TestRun(-1, 0, 0, "merge failed")
        return Verdict(status, merge_status, strategy, empty, empty, False)
    runs = [run_runner(task_dir, read_tests(task_dir, f), diff) for f in (fa, fb)]
    return Verdict(status, merge_status, strategy, runs[0], runs[1], parses)


def score_solo(task_dir: Path, fa: int, fb: int, patch: str) -> Verdict:
    """Score a solo pair: one patch, tested against both features' tests."""
    patch = filter_test_files(patch)
    with tempfile.TemporaryDirectory(prefix="cb-solo-") as tmp:
        repo = Path(tmp) / "repo"
        init_base_repo(task_dir / "repo", repo)
        patch_file = Path(tmp) / "solo.patch"
        patch_file.write_text(patch)
        applied = apply_patch(repo, patch_file)
    runs = [run_runner(task_dir, read_tests(task_dir, f), patch) for f in (fa, fb)]
    return Verdict({"solo": applied}, None, None, runs[0], runs[1])


def read_tests(task_dir: Path, feature: int) -> str:
    """The hidden tests patch of one feature."""
    return (task_dir / f"feature{feature}" / "tests.patch").read_text()


def read_gold(task_dir: Path, feature: int) -> str:
    """The gold implementation patch of one feature."""
    return (task_dir / f"feature{feature}" / "feature.patch").read_text()


def feature_ids(task_dir: Path) -> list[int]:
    """Sorted feature ids of a task."""
    ids = [
        int(p.name[len("feature") :])
        for p in task_dir.glob("feature*")
        if p.name[len("feature") :].isdigit()
    ]
    return sorted(ids)


def task_dirs(dataset: Path) -> list[Path]:
    """Every <repo>_task/task<id> directory of the dataset."""
    return sorted(p for p in dataset.glob("*_task/task*") if p.is_dir() and p.name[4:].isdigit())


def combine_patches(task_dir: Path, patches: list[str]) -> str:
    """Apply patches one after another on the base commit and return the combined diff."""
    with tempfile.TemporaryDirectory(prefix="cb-combine-") as tmp:
        repo = Path(tmp) / "repo"
        base = init_base_repo(task_dir / "repo", repo)
        for index, patch in enumerate(patches):
            patch_file = Path(tmp) / f"p{index}.patch"
            patch_file.write_text(patch)
            if apply_patch(repo, patch_file) != "applied":
                raise RuntimeError(f"patch {index} does not apply on top of the previous ones")
        git(repo, "add", "-A")
        return git(repo, "diff", "--cached", base).stdout


# ------------------------------------------------------------------------ checks


class Checker:
    """Collects check results and prints one line per check."""

    def __init__(self) -> None:
        self.failures = 0
        self.count = 0

    def check(self, ok: bool, name: str, detail: str = "") -> bool:
        """Record one check."""
        self.count += 1
        if not ok:
            self.failures += 1
        line = f"{'PASS' if ok else 'FAIL'}  {name}"
        if detail and not ok:
            line += f"\n      {detail.strip()[-1500:]}".replace("\n", "\n      ")
        print(line, flush=True)
        return ok


def check_subsets(c: Checker, dataset: Path) -> None:
    """Subset files name existing tasks and features."""
    for path in sorted((dataset / "subsets").glob("*.json")):
        data = json.loads(path.read_text())
        keys_ok = {"name", "description", "stats", "tasks"} <= data.keys() and data[
            "name"
        ] == path.stem
        c.check(keys_ok, f"subset {path.name}: has name/description/stats/tasks")
        for task in data["tasks"]:
            task_dir = dataset / task["repo"] / f"task{task['task_id']}"
            c.check(
                task_dir.is_dir(),
                f"subset {path.name}: {task['repo']}/task{task['task_id']} exists",
            )
            ids = feature_ids(task_dir) if task_dir.is_dir() else []
            for pair in task.get("pairs", []):
                ok = len(pair) == 2 and pair[0] < pair[1] and set(pair) <= set(ids)
                c.check(ok, f"subset {path.name}: pair {pair} of task {task['task_id']} is valid")


def check_layout(c: Checker, task_dir: Path) -> None:
    """Files of the task contract exist and look right."""
    name = f"{task_dir.parent.name}/{task_dir.name}"
    runner = task_dir / "runner.sh"
    c.check(runner.is_file() and os.access(runner, os.X_OK), f"{name}: runner.sh is executable")
    text = runner.read_text()
    for line in (
        'ROOT="${SANDBOX_ROOT:-}"',
        'REPO="$ROOT/workspace/repo"',
        'PATCHES="$ROOT/patches"',
    ):
        c.check(line in text, f"{name}: runner.sh sets {line.split('=')[0]}")
    c.check(
        "--junitxml" not in text and "set -u" not in text,
        f"{name}: runner.sh leaves junit to the harness",
    )
    docker = (task_dir / "Dockerfile").read_text()
    for needle in (
        "ARG BASE_IMAGE=python:3.11-slim",
        "FROM ${BASE_IMAGE}",
        "COPY repo /workspace/repo",
        "COPY runner.sh /usr/local/bin/runner.sh",
        "WORKDIR /workspace/repo",
    ):
        c.check(needle in docker, f"{name}: Dockerfile has '{needle}'")
    c.check(not (task_dir / "repo" / ".git").exists(), f"{name}: repo/ has no .git")
    ids = feature_ids(task_dir)
    c.check(len(ids) >= 4 and ids[:4] == [1, 2, 3, 4], f"{name}: features 1..4 exist ({ids})")
    for f in ids:
        fdir = task_dir / f"feature{f}"
        files_ok = all(
            (fdir / n).is_file() and (fdir / n).stat().st_size
            for n in ("feature.md", "feature.patch", "tests.patch")
        )
        c.check(files_ok, f"{name}: feature{f} has feature.md, feature.patch, tests.patch")
        gold_paths = patch_paths(read_gold(task_dir, f))
        c.check(
            bool(gold_paths) and not any(is_test_path(p) for p in gold_paths),
            f"{name}: feature{f}/feature.patch edits source files only",
            str(gold_paths),
        )
        tests = read_tests(task_dir, f)
        only_new_file = (
            patch_paths(tests) == [f"tests/test_feature{f}.py"] and "new file mode" in tests
        )
        c.check(
            only_new_file, f"{name}: feature{f}/tests.patch creates tests/test_feature{f}.py only"
        )
        n_tests = len(re.findall(r"^\+def test_", tests, re.M))
        c.check(n_tests >= 3, f"{name}: feature{f}/tests.patch has {n_tests} test functions (>= 3)")


def check_features(c: Checker, task_dir: Path) -> None:
    """Base tests pass; each feature's tests fail alone and pass with its gold patch."""
    name = f"{task_dir.parent.name}/{task_dir.name}"
    base = run_runner(task_dir, "")
    c.check(
        base.ok and base.failed == 0, f"{name}: base tests pass ({base.passed} passed)", base.output
    )
    for f in feature_ids(task_dir):
        alone = run_runner(task_dir, read_tests(task_dir, f))
        c.check(
            not alone.ok,
            f"{name}: feature{f} tests fail without the feature (exit {alone.exit_code})",
            alone.output,
        )
        gold = run_runner(task_dir, read_tests(task_dir, f), read_gold(task_dir, f))
        c.check(
            gold.ok and gold.failed == 0,
            f"{name}: feature{f} tests pass with the gold patch ({gold.passed} passed)",
            gold.output,
        )


def check_pairs(c: Checker, task_dir: Path) -> None:
    """Every pair of gold patches merges and scores as designed."""
    name = f"{task_dir.parent.name}/{task_dir.name}"
    for fa, fb in itertools.combinations(feature_ids(task_dir), 2):
        status, strategy, passes = PAIR_DESIGN.get((fa, fb), DEFAULT_DESIGN)
        v = score_coop(task_dir, fa, fb, read_gold(task_dir, fa), read_gold(task_dir, fb))
        got = (v.merge_status, v.merge_strategy, v.feature1.ok and v.feature2.ok)
        detail = f"got {got}\n--- feature{fa}:\n{v.feature1.output}\n--- feature{fb}:\n{v.feature2.output}"
        c.check(
            got == (status, strategy, passes),
            f"{name}: pair {fa},{fb} -> merge {status}/{strategy}, both pass={passes}",
            detail,
        )
        if strategy == "union":
            c.check(
                v.merged_parses == passes,
                f"{name}: pair {fa},{fb} union result {'parses' if passes else 'is broken Python'}",
            )
    solo = combine_patches(task_dir, [read_gold(task_dir, 1), read_gold(task_dir, 2)])
    v = score_solo(task_dir, 1, 2, solo)
    c.check(
        v.feature1.ok and v.feature2.ok and v.apply_status == {"solo": "applied"},
        f"{name}: solo patch of gold 1+2 passes both features",
    )


def main(argv: list[str] | None = None) -> int:
    """Run every check; return 0 when all pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", type=Path, default=DATASET, help="dataset root (default: examples/dataset)"
    )
    args = parser.parse_args(argv)
    c = Checker()
    check_subsets(c, args.dataset)
    for task_dir in task_dirs(args.dataset):
        check_layout(c, task_dir)
        check_features(c, task_dir)
        check_pairs(c, task_dir)
    print(f"\n{c.count - c.failures}/{c.count} checks passed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
