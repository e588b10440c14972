"""The run-wide evaluation summary: every evaluated pair of a run, not one invocation."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cooperbench.atomic import write_json_atomic
from cooperbench.evaluation.pipeline import now_iso
from cooperbench.evaluation.types import ERROR, FAILED, PASSED, SKIPPED
from cooperbench.logs import PairRun

SUMMARY_FILE = "eval_summary.json"


def read_eval(pair: PairRun) -> dict[str, Any] | None:
    """A pair's eval.json, or ``None`` if it has none (or an unreadable one)."""
    try:
        data = json.loads(pair.eval_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def status_of(document: dict[str, Any] | None) -> str:
    """``passed``, ``failed``, ``error`` or ``skipped`` (no verdict yet)."""
    if document is None:
        return SKIPPED
    if document.get("error_kind") or (document.get("error") and "error_kind" not in document):
        return ERROR
    return PASSED if document.get("both_passed") else FAILED


def _tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {
        key: sum(1 for r in rows if r["status"] == key) for key in (PASSED, FAILED, ERROR, SKIPPED)
    }
    scored = counts[PASSED] + counts[FAILED]
    coop = [r for r in rows if r["setting"] == "coop" and r["merge_status"] is not None]
    conflicts = sum(1 for r in coop if r["merge_status"] == "conflicts")
    return {
        "total_runs": len(rows),
        "passed": counts[PASSED],
        "failed": counts[FAILED],
        "errors": counts[ERROR],
        "skipped": counts[SKIPPED],
        "pass_rate": round(counts[PASSED] / scored, 4) if scored else 0.0,
        "merge_conflict_rate": round(conflicts / len(coop), 4) if coop else 0.0,
        # Failed verdicts worth a look: tests killed at the timeout, and results whose
        # report and runner disagreed (possible tampering).
        "timed_out": sum(1 for r in rows if r["timed_out"]),
        "suspicious": sum(1 for r in rows if r["suspicious"]),
    }


def build_summary(run_name: str, pairs: Iterable[PairRun]) -> dict[str, Any]:
    """Summarize every pair of the run from the eval.json files on disk."""
    rows = []
    for pair in pairs:
        document = read_eval(pair)
        merge = (document or {}).get("merge") or {}
        rows.append(
            {
                "run": pair.key,
                "setting": pair.setting,
                "repo": str(pair.repo or "?"),
                "status": status_of(document),
                "merge_status": merge.get("status") if document else None,
                "timed_out": bool((document or {}).get("timed_out")),
                "suspicious": bool((document or {}).get("suspicious")),
            }
        )
    repos = sorted({str(r["repo"]) for r in rows})
    by_repo = {repo: _tally([r for r in rows if r["repo"] == repo]) for repo in repos}
    return {
        "run_name": run_name,
        "evaluated_at": now_iso(),
        **_tally(rows),
        "by_repo": by_repo,
        "results": [
            {"run": r["run"], "setting": r["setting"], "status": r["status"]} for r in rows
        ],
    }


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    """Write ``eval_summary.json`` atomically at the run root."""
    path = run_dir / SUMMARY_FILE
    write_json_atomic(path, summary)
    return path


def format_table(summary: dict[str, Any]) -> str:
    """The human-readable summary table: overall, then one line per repo."""
    headers = ("", "pairs", "passed", "failed", "errors", "skipped", "pass rate", "conflicts")

    def line(label: str, tally: dict[str, Any]) -> tuple[str, ...]:
        return (
            label,
            str(tally["total_runs"]),
            str(tally["passed"]),
            str(tally["failed"]),
            str(tally["errors"]),
            str(tally["skipped"]),
            f"{tally['pass_rate'] * 100:.1f}%",
            f"{tally['merge_conflict_rate'] * 100:.1f}%",
        )

    table = [headers] + [line(repo, t) for repo, t in summary["by_repo"].items()]
    table.append(line("overall", summary))
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    rendered = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]
    rendered.insert(1, "-" * len(rendered[0]))
    rendered.insert(len(rendered) - 1, "-" * len(rendered[0]))
    return "\n".join(rendered)
