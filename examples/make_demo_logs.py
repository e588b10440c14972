#!/usr/bin/env python3
"""Regenerate the demo agent logs in examples/logs from the demo dataset.

Writes three runs in the published logs layout:

- ``gold``:  coop runs of every lite pair with the gold patches, plus two solo runs;
- ``mixed``: deliberately bad submissions (empty, unappliable, wrong, test-file
  edits, a failing solo patch, an agent that ended in ``Error``) and one
  interrupted pair folder without ``result.json``;
- ``flat``:  one pair in the flat layout (``task_<id>_feature_<a>_<b>/patch.diff``).

Every patch is produced with real git against the task's base commit, and all
timestamps, ids and costs are derived deterministically, so running this twice
gives identical files. ``expected.json`` is not written here: it is derived by
scoring these logs with ``check_expected.py --write``.

Usage: python3 examples/make_demo_logs.py [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

sys.dont_write_bytecode = True  # keep examples/ free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))

from verify_dataset import (  # noqa: E402
    DATASET,
    EXAMPLES,
    apply_patch,
    combine_patches,
    feature_ids,
    git,
    init_base_repo,
    patch_paths,
    read_gold,
)

RUN_START = datetime(2025, 6, 2, 9, 0, 0)
AGENT_FRAMEWORK = "demo_replay"
SYSTEM_PROMPT = (
    "You are a software engineer. Implement the feature described below in /workspace/repo."
)


# ------------------------------------------------------------------ patch making


class Scratch:
    """A throwaway git checkout of a task's base commit for producing patches."""

    def __init__(self, task_dir: Path) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="cb-logs-")
        self.repo = Path(self._tmp.name) / "repo"
        self.base = init_base_repo(task_dir / "repo", self.repo)

    def apply(self, patch: str) -> Scratch:
        """Apply a patch; it must apply."""
        patch_file = Path(self._tmp.name) / "in.patch"
        patch_file.write_text(patch)
        if apply_patch(self.repo, patch_file) != "applied":
            raise RuntimeError("patch does not apply in scratch repo")
        return self

    def edit(self, path: str, old: str, new: str) -> Scratch:
        """Replace the one occurrence of old in a file."""
        target = self.repo / path
        text = target.read_text()
        if text.count(old) != 1:
            raise RuntimeError(f"{path}: expected exactly one {old!r}")
        target.write_text(text.replace(old, new))
        return self

    def write(self, path: str, content: str) -> Scratch:
        """Create or overwrite a file."""
        target = self.repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        return self

    def drop_from(self, path: str, marker: str) -> Scratch:
        """Cut a file at marker, keeping the text before it (plus a final newline)."""
        target = self.repo / path
        text = target.read_text()
        target.write_text(text[: text.index(marker)] + "\n")
        return self

    def commit(self) -> Scratch:
        """Make the current state the new diff base (used to fake a stale checkout)."""
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", "scratch")
        self.base = git(self.repo, "rev-parse", "HEAD").stdout.strip()
        return self

    def diff(self) -> str:
        """Diff of the work tree (new files included) against the diff base."""
        git(self.repo, "add", "-A")
        text = git(self.repo, "diff", "--cached", self.base).stdout
        self._tmp.cleanup()
        return text


def task_dir_of(repo: str, task_id: int) -> Path:
    """Dataset folder of one task."""
    return DATASET / repo / f"task{task_id}"


# ---------------------------------------------------------------- pair records


@dataclass
class Agent:
    """One agent's submission in a pair."""

    feature_id: int
    patch: str
    status: str = "Submitted"
    error: str | None = None
    steps: int | None = None


@dataclass
class Pair:
    """One pair folder to write."""

    setting: str
    repo: str
    task_id: int
    features: tuple[int, int]
    agents: list[Agent]
    with_result: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def folder(self) -> str:
        """f<a>_f<b>"""
        return "_".join(f"f{f}" for f in self.features)


def iso(moment: datetime) -> str:
    """Timestamp text used throughout the logs."""
    return moment.isoformat()


def feature_title(task_dir: Path, feature: int) -> str:
    """First heading of a feature spec."""
    first = (task_dir / f"feature{feature}" / "feature.md").read_text().splitlines()[0]
    return first.lstrip("# ").strip()


def agent_numbers(agent: Agent) -> dict:
    """Deterministic cost/steps/tokens derived from the patch size."""
    lines = len(agent.patch.splitlines())
    steps = agent.steps if agent.steps is not None else 12 + lines // 2
    return {
        "cost": round(0.012 * steps, 4),
        "steps": steps,
        "input_tokens": 1800 * steps,
        "output_tokens": 140 * steps,
        "patch_lines": lines,
    }


def write_json(path: Path, data) -> None:
    """Write JSON with a trailing newline."""
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_pair(root: Path, run: str, model: str, index: int, pair: Pair) -> dict:
    """Write one pair folder; return its entry for summary.json."""
    task_dir = task_dir_of(pair.repo, pair.task_id)
    rel = Path(pair.setting) / pair.repo / str(pair.task_id) / pair.folder
    out = root / rel
    out.mkdir(parents=True)
    started = RUN_START + timedelta(minutes=10 * index)
    duration = 240.0 + 17.5 * index
    ended = started + timedelta(seconds=duration)
    run_id = hashlib.sha1(f"{run}/{rel}".encode()).hexdigest()[:8]
    numbers = [agent_numbers(a) for a in pair.agents]
    common = {
        "repo": pair.repo,
        "task_id": pair.task_id,
        "features": list(pair.features),
        "setting": pair.setting,
        "run_id": run_id,
        "run_name": run,
        "agent_framework": AGENT_FRAMEWORK,
        "model": model,
        "started_at": iso(started),
        "ended_at": iso(ended),
        "duration_seconds": duration,
    }
    if pair.setting == "solo":
        agent, num = pair.agents[0], numbers[0]
        (out / "solo.patch").write_text(agent.patch)
        spec = "\n\n---\n\n".join(
            f"## Feature {f}\n\n{(task_dir / f'feature{f}' / 'feature.md').read_text()}"
            for f in pair.features
        )
        write_json(
            out / "solo_traj.json",
            {
                "repo": pair.repo,
                "task_id": pair.task_id,
                "features": list(pair.features),
                "agent_id": "solo",
                "model": model,
                "status": agent.status,
                "cost": num["cost"],
                "steps": num["steps"],
                "messages": trajectory(spec, agent, started),
            },
        )
        result = {
            **common,
            "agent": {"status": agent.status, **num, "error": agent.error},
            "total_cost": num["cost"],
            "total_steps": num["steps"],
            "log_dir": f"logs/{run}/{rel}",
        }
    else:
        conversation = []
        first, second = pair.agents
        for number, (agent, other) in enumerate(((first, second), (second, first))):
            files = ", ".join(p for p in patch_paths(agent.patch) if p) or "nothing yet"
            conversation.append(
                {
                    "from": f"agent{pair.agents.index(agent) + 1}",
                    "to": f"agent{pair.agents.index(other) + 1}",
                    "message": f"I'm on feature {agent.feature_id} ({feature_title(task_dir, agent.feature_id)}); "
                    f"I plan to change {files}.",
                    "timestamp": iso(started + timedelta(seconds=45 + 50 * number)),
                    "feature_id": agent.feature_id,
                }
            )
        write_json(out / "conversation.json", conversation)
        for agent_index, (agent, num) in enumerate(zip(pair.agents, numbers, strict=True), start=1):
            (out / f"agent{agent.feature_id}.patch").write_text(agent.patch)
            spec = (task_dir / f"feature{agent.feature_id}" / "feature.md").read_text()
            write_json(
                out / f"agent{agent.feature_id}_traj.json",
                {
                    "repo": pair.repo,
                    "task_id": pair.task_id,
                    "feature_id": agent.feature_id,
                    "agent_id": f"agent{agent_index}",
                    "model": model,
                    "status": agent.status,
                    "cost": num["cost"],
                    "steps": num["steps"],
                    "messages": trajectory(spec, agent, started),
                },
            )
        agents = {
            f"agent{i}": {"feature_id": a.feature_id, "status": a.status, **num, "error": a.error}
            for i, (a, num) in enumerate(zip(pair.agents, numbers, strict=True), start=1)
        }
        result = {
            **common,
            "agents": agents,
            "total_cost": round(sum(n["cost"] for n in numbers), 4),
            "total_steps": sum(n["steps"] for n in numbers),
            "messages_sent": len(conversation),
            "log_dir": f"logs/{run}/{rel}",
        }
    if pair.with_result:
        write_json(out / "result.json", result)
    label = f"{pair.repo}/{pair.task_id}/{','.join(map(str, pair.features))}"
    status = "done" if pair.with_result else "interrupted"
    return {
        "task": label,
        "setting": pair.setting,
        "status": status,
        "cost": result["total_cost"],
        "duration_seconds": duration,
    }


def trajectory(spec: str, agent: Agent, started: datetime) -> list[dict]:
    """A short, readable trajectory."""
    if agent.status == "Error":
        closing = f"The run stopped with an error: {agent.error}"
    elif not agent.patch:
        closing = "I ran out of steps before producing a change."
    else:
        closing = f"Implemented the change ({len(agent.patch.splitlines())} patch lines) and submitted it."
    return [
        {"role": "system", "content": SYSTEM_PROMPT, "timestamp": iso(started)},
        {"role": "user", "content": spec, "timestamp": iso(started)},
        {
            "role": "assistant",
            "content": closing,
            "timestamp": iso(started + timedelta(seconds=200)),
        },
    ]


def write_run(out: Path, run: str, model: str, pairs: list[Pair]) -> None:
    """Write a whole run: pair folders, config.json and summary.json."""
    root = out / run
    root.mkdir(parents=True)
    results = [write_pair(root, run, model, index, pair) for index, pair in enumerate(pairs)]
    done = [r for r in results if r["status"] == "done"]
    write_json(
        root / "config.json",
        {
            "run_name": run,
            "agent_framework": AGENT_FRAMEWORK,
            "model": model,
            "settings": sorted({p.setting for p in pairs}),
            "concurrency": 1,
            "total_tasks": len(pairs),
            "started_at": iso(RUN_START),
        },
    )
    last = RUN_START + timedelta(
        minutes=10 * (len(pairs) - 1), seconds=results[-1]["duration_seconds"]
    )
    write_json(
        root / "summary.json",
        {
            "run_name": run,
            "completed_at": iso(last),
            "total_tasks": len(pairs),
            "completed": len(done),
            "skipped": 0,
            "failed": len(results) - len(done),
            "total_cost": round(sum(r["cost"] for r in done), 4),
            "total_time_seconds": (last - RUN_START).total_seconds(),
            "results": [{k: r[k] for k in ("task", "setting", "status", "cost")} for r in results],
        },
    )


# ---------------------------------------------------------------------- the runs


def lite_pairs() -> list[tuple[str, int, tuple[int, int]]]:
    """Every (repo, task, pair) of the lite subset, all pairs where none are listed."""
    subset = json.loads((DATASET / "subsets" / "lite.json").read_text())
    found = []
    for task in subset["tasks"]:
        ids = feature_ids(task_dir_of(task["repo"], task["task_id"]))
        pairs = task.get("pairs") or list(itertools.combinations(ids, 2))
        found += [(task["repo"], task["task_id"], tuple(sorted(p))) for p in pairs]
    return found


def gold(repo: str, task_id: int, feature: int) -> str:
    """Gold patch of a feature."""
    return read_gold(task_dir_of(repo, task_id), feature)


def gold_run() -> list[Pair]:
    """Coop runs of every lite pair plus two solo runs, all with gold patches."""
    pairs = [
        Pair("coop", repo, task, fs, [Agent(f, gold(repo, task, f)) for f in fs])
        for repo, task, fs in lite_pairs()
    ]
    for repo, task in (("demo_textkit_task", 0), ("demo_ledger_task", 7)):
        solo = combine_patches(task_dir_of(repo, task), [gold(repo, task, 1), gold(repo, task, 2)])
        pairs.append(Pair("solo", repo, task, (1, 2), [Agent(0, solo)]))
    return pairs


def mixed_run() -> list[Pair]:
    """Bad submissions, one kind per pair folder."""
    tk, lg = ("demo_textkit_task", 0), ("demo_ledger_task", 7)
    tk_dir, lg_dir = task_dir_of(*tk), task_dir_of(*lg)

    # (a) agent1 produced nothing.
    empty = Pair(
        "coop",
        *tk,
        (1, 2),
        [Agent(1, "", status="LimitsExceeded", steps=50), Agent(2, gold(*tk, 2))],
    )

    # (b) agent2's patch was made against a checkout that differs from the base,
    # so its context lines do not exist there and it cannot be applied.
    stale_patch = (
        Scratch(lg_dir)
        .edit(
            "ledger/money.py",
            '    """Format integer cents as a decimal string with two places: 1234 -> "12.34"."""\n',
            '    """Render cents as text."""\n',
        )
        .edit(
            "ledger/money.py",
            "    whole, frac = divmod(abs(cents), 100)\n",
            "    units, rest = divmod(abs(cents), 100)\n",
        )
        .edit(
            "ledger/money.py",
            '    return f"{sign}{whole}.{frac:02d}"\n',
            '    return f"{sign}{units}.{rest:02d}"\n',
        )
        .commit()
        .edit(
            "ledger/money.py",
            "def format_amount(cents):\n",
            'def format_amount(cents, separator=""):\n',
        )
        .edit(
            "ledger/money.py",
            '    return f"{sign}{units}.{rest:02d}"\n',
            '    text = f"{units:,}".replace(",", separator)\n    return f"{sign}{text}.{rest:02d}"\n',
        )
        .diff()
    )
    unappliable = Pair("coop", *lg, (1, 2), [Agent(1, gold(*lg, 1)), Agent(2, stale_patch)])

    # (c) agent2's void handling is inverted: it applies but fails its tests.
    wrong_void = (
        Scratch(lg_dir)
        .apply(gold(*lg, 4))
        .edit(
            "ledger/core.py",
            '(include_void or not entry.get("void"))',
            '(not include_void or not entry.get("void"))',
        )
        .diff()
    )
    wrong = Pair("coop", *lg, (2, 4), [Agent(2, gold(*lg, 2)), Agent(4, wrong_void)])

    # (d) agent1 is gold but also weakens the existing tests and adds its own
    # test file; the harness drops test-file edits, so the pair still passes.
    test_edits = (
        Scratch(tk_dir)
        .apply(gold(*tk, 1))
        .edit(
            "tests/test_core.py",
            '    assert truncate("hello world", 8) == "hello..."\n'
            '    assert truncate("hello world", 8, suffix="~") == "hello w~"\n'
            '    assert truncate("hello world", 2) == ".."\n',
            "    pass\n",
        )
        .write("tests/test_feature1.py", "def test_title_case():\n    assert True\n")
        .diff()
    )
    edits_tests = Pair("coop", *tk, (1, 4), [Agent(1, test_edits), Agent(4, gold(*tk, 4))])

    # (e) solo: feature 1 is right, reading_time rounds down instead of up.
    solo_bad = (
        Scratch(tk_dir)
        .apply(gold(*tk, 1))
        .apply(gold(*tk, 2))
        .edit(
            "textkit/stats.py",
            "    return -(-words // words_per_minute)\n",
            "    return words // words_per_minute\n",
        )
        .diff()
    )
    solo = Pair("solo", *tk, (1, 2), [Agent(0, solo_bad)])

    # (f) agent2 crashed half way: only the balance(until=...) part of feature 3 exists.
    partial = (
        Scratch(lg_dir)
        .apply(gold(*lg, 3))
        .drop_from("ledger/core.py", "\n\n\ndef running_balance(")
        .diff()
    )
    errored = Pair(
        "coop",
        *lg,
        (1, 3),
        [
            Agent(1, gold(*lg, 1)),
            Agent(
                3,
                partial,
                status="Error",
                steps=9,
                error="RuntimeError: sandbox exited unexpectedly (exit code 137)",
            ),
        ],
    )

    # An interrupted pair: patches exist but result.json was never written.
    interrupted = Pair(
        "coop", *tk, (2, 3), [Agent(2, gold(*tk, 2)), Agent(3, gold(*tk, 3))], with_result=False
    )
    return [empty, unappliable, wrong, edits_tests, solo, errored, interrupted]


def flat_run(out: Path) -> None:
    """One pair in the flat layout: logs/flat/task_0_feature_1_2/patch.diff."""
    repo, task = "demo_textkit_task", 0
    folder = out / "flat" / "task_0_feature_1_2"
    folder.mkdir(parents=True)
    combined = combine_patches(task_dir_of(repo, task), [gold(repo, task, 1), gold(repo, task, 2)])
    (folder / "patch.diff").write_text(combined)


def main(argv: list[str] | None = None) -> int:
    """Rebuild examples/logs/{gold,mixed,flat}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=EXAMPLES / "logs", help="logs root (default: examples/logs)"
    )
    args = parser.parse_args(argv)
    for run in ("gold", "mixed", "flat"):
        shutil.rmtree(args.out / run, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_run(args.out, "gold", "gold-patches", gold_run())
    write_run(args.out, "mixed", "scripted-submissions", mixed_run())
    flat_run(args.out)
    for path in sorted(p for p in args.out.rglob("*") if p.is_file()):
        print(path.relative_to(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
