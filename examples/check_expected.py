#!/usr/bin/env python3
"""Score every demo pair folder in examples/logs and compare with expected.json.

Each pair is scored with the published procedure (see verify_dataset.py):
test-file edits are dropped from the agent patches, each patch goes on its own
branch from the base commit, agent1 is merged into agent2 (plain merge, then a
``union`` merge on conflict), and every feature's hidden tests run on the
merged code through the task's runner.sh. Solo patches are tested directly.

A pair folder counts only when it holds result.json. The flat layout
(``<run>/task_<id>_feature_<a>_<b>/patch.diff``) is scored like a solo run,
with the repository found by task id; its key is ``<run>/solo/<repo>/<id>/f<a>_f<b>``.

Usage:
  python3 examples/check_expected.py           # compare with logs/expected.json
  python3 examples/check_expected.py --write   # (re)write logs/expected.json
Exits non-zero when a verdict differs from expected.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.dont_write_bytecode = True  # keep examples/ free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))

from verify_dataset import DATASET, EXAMPLES, score_coop, score_solo, task_dirs  # noqa: E402

FLAT_NAME = re.compile(r"^task_(\d+)_feature_(\d+)_(\d+)$")
PAIR_NAME = re.compile(r"^f(\d+)_f(\d+)$")


@dataclass
class PairFolder:
    """A pair folder that counts as a run."""

    key: str
    setting: str
    task_dir: Path
    features: tuple[int, int]
    patches: list[str]


def read(path: Path) -> str:
    """File text, or '' when the file is missing."""
    return path.read_text() if path.exists() else ""


def discover(logs: Path, dataset: Path) -> tuple[list[PairFolder], list[Path]]:
    """Pair folders that are runs, and pair-like folders that are not (no result.json)."""
    runs: list[PairFolder] = []
    ignored: list[Path] = []
    by_task_id = {int(t.name[4:]): t for t in task_dirs(dataset)}
    for run_dir in sorted(p for p in logs.iterdir() if p.is_dir()):
        for setting in ("coop", "solo"):
            for folder in sorted((run_dir / setting).glob("*_task/*/f*_f*")):
                match = PAIR_NAME.match(folder.name)
                if not match or not folder.is_dir():
                    continue
                if not (folder / "result.json").exists():
                    ignored.append(folder)
                    continue
                repo, task_id = folder.parent.parent.name, int(folder.parent.name)
                fa, fb = sorted(map(int, match.groups()))
                if setting == "coop":
                    patches = [read(folder / f"agent{fa}.patch"), read(folder / f"agent{fb}.patch")]
                else:
                    patches = [read(folder / "solo.patch")]
                key = f"{run_dir.name}/{setting}/{repo}/{task_id}/{folder.name}"
                runs.append(
                    PairFolder(key, setting, dataset / repo / f"task{task_id}", (fa, fb), patches)
                )
        for folder in sorted(run_dir.glob("task_*_feature_*_*")):
            match = FLAT_NAME.match(folder.name)
            if not match or not (folder / "patch.diff").exists():
                continue
            task_id, fa, fb = map(int, match.groups())
            task_dir = by_task_id[task_id]
            key = f"{run_dir.name}/solo/{task_dir.parent.name}/{task_id}/f{min(fa, fb)}_f{max(fa, fb)}"
            runs.append(
                PairFolder(
                    key, "solo", task_dir, (min(fa, fb), max(fa, fb)), [read(folder / "patch.diff")]
                )
            )
    return runs, ignored


def score(pair: PairFolder) -> dict:
    """The expected.json verdict of one pair."""
    fa, fb = pair.features
    if pair.setting == "coop":
        verdict = score_coop(pair.task_dir, fa, fb, *pair.patches)
    else:
        verdict = score_solo(pair.task_dir, fa, fb, pair.patches[0])
    return verdict.as_expected()


def main(argv: list[str] | None = None) -> int:
    """Score all pairs; write or compare expected.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, default=EXAMPLES / "logs")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument(
        "--write", action="store_true", help="write expected.json instead of comparing"
    )
    args = parser.parse_args(argv)
    expected_path = args.logs / "expected.json"
    runs, ignored = discover(args.logs, args.dataset)
    for folder in ignored:
        print(f"skip  {folder.relative_to(args.logs)} (no result.json, not a run)")
    verdicts = {}
    for pair in runs:
        verdicts[pair.key] = score(pair)
        v = verdicts[pair.key]
        print(
            f"score {pair.key}: apply={v['apply_status']} merge={v['merge_status']}/{v['merge_strategy']} "
            f"f1={v['feature1_passed']} f2={v['feature2_passed']} both={v['both_passed']}",
            flush=True,
        )
    if args.write:
        expected_path.write_text(json.dumps(verdicts, indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {expected_path} ({len(verdicts)} pairs)")
        return 0
    expected = json.loads(expected_path.read_text())
    failures = 0
    for key in sorted(set(expected) | set(verdicts)):
        ok = expected.get(key) == verdicts.get(key)
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {key}")
        if not ok:
            print(f"      expected {expected.get(key)}\n      got      {verdicts.get(key)}")
    print(
        f"\n{len(verdicts) - failures}/{len(set(expected) | set(verdicts))} pairs match expected.json"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
