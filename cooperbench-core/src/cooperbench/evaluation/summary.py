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


def not_passed(pairs: Iterable[PairRun]) -> list[dict[str, str]]:
    """The evaluated pairs that failed or ended in an error, each with why.

    Each is ``{"run", "setting", "status", "reason"}``; ``reason`` is one line (see
    :func:`failure_reason`). Pairs without eval.json are not listed.
    """
    rows = []
    for pair in pairs:
        document = read_eval(pair)
        status = status_of(document)
        if document is None or status not in (FAILED, ERROR):
            continue
        rows.append(
            {
                "run": pair.key,
                "setting": pair.setting,
                "status": status,
                "reason": failure_reason(document),
            }
        )
    return rows


def failure_reason(document: dict[str, Any]) -> str:
    """Why a pair did not pass, in one line: its error, else its first failing test.

    For a failed pair: the first feature that did not pass, its first failed (or
    erroring) test and that test's most telling error line; else the feature's own
    reason (a timeout, a suspicion) or its exit status.
    """
    if status_of(document) == ERROR:
        kind = document.get("error_kind") or "error"
        return _one_line(f"{kind}: {document.get('error') or 'no detail recorded'}")
    for feature in feature_results(document):
        if feature.get("passed"):
            continue
        label = f"feature {feature.get('feature_id', '?')}"
        for case in feature.get("test_results") or []:
            if case.get("status") in (FAILED, ERROR):
                why = _telling_line(str(case.get("error") or ""))
                test = f"{label}: {case.get('test_name')} {case.get('status')}"
                return _one_line(f"{test}: {why}" if why else test)
        if feature.get("reason"):
            return _one_line(f"{label}: {feature['reason']}")
        if feature.get("suspicious"):
            return _one_line(f"{label}: suspicious: {feature['suspicious']}")
        return _one_line(
            f"{label}: exit status {feature.get('exit_code')}, "
            f"{feature.get('tests_passed', 0)} test(s) passed"
        )
    merge = document.get("merge") or {}
    if merge.get("status") in ("missing_input", "error"):
        return f"merge {merge['status']}"
    return "no feature passed" if not feature_results(document) else "failed"


def feature_results(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-feature entries of an eval.json (``feature1``, ``feature2``, ... in order)."""
    found = []
    index = 1
    while isinstance(document.get(f"feature{index}"), dict):
        found.append(document[f"feature{index}"])
        index += 1
    return found


def _telling_line(error: str) -> str:
    """The line of a test's error output that says most: pytest's last ``E`` line."""
    lines = [line.rstrip() for line in error.splitlines() if line.strip()]
    marked = [line[1:].strip() for line in lines if line.startswith("E ")]
    if marked:
        return marked[-1]
    return lines[-1].strip() if lines else ""


def _one_line(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
