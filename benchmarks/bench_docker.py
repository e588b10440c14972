"""Evaluation on Docker: cooperbench's wall time per phase vs plain ``docker run`` (the floor).

For every pair of a run (by default the demo ``gold`` run: 8 coop and 2 solo pairs)
two ways of scoring are timed, interleaved in rounds so machine noise hits them alike:

- **cooperbench**: ``cooperbench.evaluate(..., backend="docker", force=True)``, as
  ``cooperbench eval --backend docker --force`` runs it, at ``-c 1`` and ``-c 2``. Each
  pair's eval.json says where its time went (``timings``: image resolution, container
  start, patch setup and merge, test runs, teardown).
- **floor**: for each feature, ``docker run --rm --network none -v DIR:/patches IMAGE
  runner.sh tests<N>.patch merged.patch``, the least any harness can do: the same
  task runner on the same patches (the merged diff cooperbench produced), with no
  staging, no merging and no result collection.

The ratio compares the whole ``evaluate()`` call (planning, eval.json and summary
writes included) with the floor's wall time for the same pairs, at the same
concurrency. A warm-up evaluation builds the task images first if they are missing
(and reports that one-time cost); the timed rounds then find them cached, as every
pair after a task's first does.

Usage::

    python benchmarks/bench_docker.py [--rounds 5] [--run gold] [--json results.json]

Needs a running Docker engine and the ``cooperbench/base:bookworm`` image
(``scripts/start-docker.sh`` and ``scripts/build-base-image.sh`` provide both).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cooperbench import evaluate
from cooperbench.evaluation.api import plan_evaluation
from cooperbench.evaluation.patches import drop_test_files
from cooperbench.evaluation.types import EvalRequest
from cooperbench.plugin_manager import PluginManager

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("image", "sandbox_start", "patch_setup", "tests", "teardown")
HEADINGS = ("image", "start", "setup+merge", "tests", "teardown")
TARGET = 1.10


class FloorPair:
    """One pair's inputs for the floor: its image, features and a /patches folder."""

    def __init__(self, request: EvalRequest, patches: Path) -> None:
        self.key = f"{request.pair.setting}:{request.key}"
        self.image = request.image
        self.features = request.pair.features
        self.patches = patches

    def run(self) -> float:
        """Run each feature's tests in a fresh container, as plain ``docker run`` does."""
        started = time.monotonic()
        for feature_id in self.features:
            subprocess.run(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "-v",
                    f"{self.patches}:/patches:ro",
                    self.image,
                    "runner.sh",
                    f"tests{feature_id}.patch",
                    "merged.patch",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,  # failing tests are a verdict, not a benchmark failure
            )
        return time.monotonic() - started


def stage_floor(requests: Sequence[EvalRequest], scratch: Path) -> list[FloorPair]:
    """Write each pair's tests patches and the merged diff cooperbench computed."""
    pairs = []
    for index, request in enumerate(requests):
        folder = scratch / f"pair{index}"
        folder.mkdir(parents=True)
        for feature_id in request.pair.features:
            tests = request.task.feature(feature_id).tests_patch_path.read_bytes()
            (folder / f"tests{feature_id}.patch").write_bytes(tests)
        document = json.loads(request.pair.eval_path.read_text())
        if request.pair.setting == "solo":
            merged, _ = drop_test_files(request.pair.read_patch(None) or "")
        else:
            merged = (document.get("merge") or {}).get("diff") or ""
        (folder / "merged.patch").write_text(merged)
        pairs.append(FloorPair(request, folder))
    return pairs


def run_floor(pairs: Sequence[FloorPair], concurrency: int) -> tuple[float, dict[str, float]]:
    """Wall time of the floor over all pairs, and each pair's own time."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        times = dict(zip([p.key for p in pairs], pool.map(FloorPair.run, pairs), strict=True))
    return time.monotonic() - started, times


def run_cooperbench(options: dict[str, Any], concurrency: int) -> tuple[float, dict[str, Any]]:
    """Wall time of ``evaluate()`` over all pairs, and each pair's eval.json timings."""
    results: dict[str, Any] = {}

    def keep(result: Any) -> None:
        if result.error is not None:
            raise SystemExit(f"benchmark aborted: {result.pair.key} errored: {result.error}")
        results[f"{result.pair.setting}:{result.pair.key}"] = dict(result.timings)

    started = time.monotonic()
    evaluate(concurrency=concurrency, force=True, on_result=keep, **options)
    return time.monotonic() - started, results


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def docker_version() -> str:
    done = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit("benchmark needs a running Docker engine: run scripts/start-docker.sh")
    return done.stdout.strip()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="cooperbench-bench-docker-"))
    try:
        logs = scratch / "logs"
        shutil.copytree(
            Path(args.logs) / args.run, logs / args.run, ignore=shutil.ignore_patterns("eval*.json")
        )
        options: dict[str, Any] = {
            "run_name": args.run,
            "backend": "docker",
            "log_dir": logs,
            "dataset_dir": args.dataset,
            "backend_options": {"build_args": {"BASE_IMAGE": args.base_image}},
            "plugins": PluginManager.discover(),
        }
        warm_wall, warm = run_cooperbench(options, 1)
        requests = plan_evaluation(
            args.run, log_dir=logs, dataset_dir=args.dataset, force=True
        ).requests
        floor = stage_floor(requests, scratch / "floor")
        steps: dict[str, Callable[[], tuple[float, dict[str, Any]]]] = {
            "cooperbench -c 1": lambda: run_cooperbench(options, 1),
            "floor -c 1": lambda: run_floor(floor, 1),
            "cooperbench -c 2": lambda: run_cooperbench(options, 2),
            "floor -c 2": lambda: run_floor(floor, 2),
        }
        walls: dict[str, list[float]] = {name: [] for name in steps}
        per_pair: dict[str, list[Any]] = {name: [] for name in steps}
        names = list(steps)
        for round_index in range(args.rounds):
            # Rotating the order keeps any drift over the run from favouring one side.
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                wall, pairs = steps[name]()
                walls[name].append(wall)
                per_pair[name].append(pairs)
                print(f"  round {round_index + 1}: {name:<17} {wall:6.2f} s", file=sys.stderr)
        return {
            "pairs": [p.key for p in floor],
            "warmup": {
                "wall": warm_wall,
                "image": {k: v.get("image", 0.0) for k, v in warm.items()},
            },
            "walls": walls,
            "per_pair": per_pair,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(data: dict[str, Any], args: argparse.Namespace) -> str:
    pairs = data["pairs"]
    walls = {name: median(values) for name, values in data["walls"].items()}
    ours = data["per_pair"]["cooperbench -c 1"]
    floors = data["per_pair"]["floor -c 1"]
    lines = [
        f"Docker evaluation benchmark: run {args.run!r}, {len(pairs)} pairs, "
        f"{args.rounds} rounds (medians)",
        f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, Docker engine {data['engine']}",
        "",
        "Per pair at -c 1, seconds. Each pair's sandbox starts while the previous pair",
        "is evaluated and is removed while the next one runs, so start and teardown",
        "overlap other pairs: the sum is the work done for the pair, the whole-run wall",
        "time below is what it costs.",
        "",
        "| pair | " + " | ".join(HEADINGS) + " | sum | floor |",
        "|---" * (len(HEADINGS) + 3) + "|",
    ]
    sums = dict.fromkeys(PHASES, 0.0)
    floor_sum = 0.0
    for key in pairs:
        phases = {phase: median([r[key].get(phase, 0.0) for r in ours]) for phase in PHASES}
        for phase in PHASES:
            sums[phase] += phases[phase]
        floor = median([r[key] for r in floors])
        floor_sum += floor
        cells = " | ".join(f"{phases[p]:.3f}" for p in PHASES)
        lines.append(f"| {key} | {cells} | {sum(phases.values()):.3f} | {floor:.3f} |")
    lines.append(
        "| **all pairs** | "
        + " | ".join(f"{sums[p]:.2f}" for p in PHASES)
        + f" | {sum(sums.values()):.2f} | {floor_sum:.2f} |"
    )
    lines += [
        "",
        "Whole run, wall time (evaluate() call vs floor over the same pairs):",
        "",
        "| concurrency | cooperbench | floor | ratio | cooperbench pairs/min | floor pairs/min |",
        "|---|---|---|---|---|---|",
    ]
    ratios = {}
    for level in (1, 2):
        ours_wall, floor_wall = walls[f"cooperbench -c {level}"], walls[f"floor -c {level}"]
        ratios[level] = ours_wall / floor_wall
        lines.append(
            f"| -c {level} | {ours_wall:.2f} s | {floor_wall:.2f} s | {ratios[level]:.2f}x | "
            f"{60 * len(pairs) / ours_wall:.1f} | {60 * len(pairs) / floor_wall:.1f} |"
        )
    built = {k: v for k, v in data["warmup"]["image"].items() if v > 1.0}
    lines += [
        "",
        f"Target: cooperbench within {TARGET:.2f}x of the floor at -c 1: "
        + ("met" if ratios[1] <= TARGET else "NOT met")
        + f" ({ratios[1]:.2f}x).",
        "Warm-up: "
        + (
            f"built {len(built)} task image(s) ({', '.join(f'{v:.1f} s' for v in built.values())})"
            if built
            else "all task images were already present"
        )
        + f"; warm-up evaluation took {data['warmup']['wall']:.2f} s.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--run", default="gold", help="run folder under --logs (default gold)")
    parser.add_argument("--logs", default=str(ROOT / "examples" / "logs"))
    parser.add_argument("--dataset", default=str(ROOT / "examples" / "dataset"))
    parser.add_argument("--base-image", default="cooperbench/base:bookworm")
    parser.add_argument("--json", help="also write the raw measurements to this file")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    engine = docker_version()
    data = measure(args)
    data["engine"] = engine
    print(report(data, args))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
