"""What a report shows, read from a run's files on disk (result.json, eval.json, ...)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from cooperbench.evaluation.summary import (
    build_summary,
    failure_reason,
    feature_results,
    read_eval,
    status_of,
)
from cooperbench.evaluation.types import ERROR, FAILED, PASSED, SKIPPED
from cooperbench.logs import PairRun, discover, run_dir

#: The merge outcomes a report distinguishes, in display order.
CLEAN = "clean"
UNION = "union"
CONFLICT = "conflict"
MISSING_INPUT = "missing input"
NO_MERGE = "solo"
NOT_EVALUATED = "not evaluated"
MERGE_OUTCOMES = (CLEAN, UNION, CONFLICT, MISSING_INPUT, NO_MERGE, NOT_EVALUATED)
#: Verdicts in display order.
STATUSES = (PASSED, FAILED, ERROR, SKIPPED)
#: The phases of eval.json ``timings`` in pipeline order (backends may add others).
PHASES = ("image", "sandbox_start", "patch_setup", "tests", "teardown")

#: Characters of a merged diff, a test's error and a conversation kept in the page.
DIFF_LIMIT = 200_000
ERROR_LIMIT = 4_000
MESSAGES_LIMIT = 500
FAILING_TESTS_LIMIT = 20


@attrs.frozen
class FailingTest:
    """One test that failed or errored, with its error text (shortened)."""

    feature_id: int
    name: str
    status: str
    error: str


@attrs.frozen
class PairReport:
    """Everything the report shows about one pair."""

    index: int
    key: str
    setting: str
    repo: str
    task_id: int
    features: tuple[int, ...]
    folder: str
    status: str
    merge: str
    #: Per feature id: passed, failed (``False``) or not evaluated (``None``).
    feature_passed: tuple[tuple[int, bool | None], ...]
    tests_passed: int
    tests_failed: int
    duration: float | None
    timings: dict[str, float]
    reason: str
    failing: tuple[FailingTest, ...]
    diff: str
    diff_truncated: bool
    conversation: tuple[dict[str, Any], ...]
    conversation_note: str

    @property
    def anchor(self) -> str:
        """The id of the pair's section in the page."""
        return f"pair-{self.index}"


@attrs.frozen
class RunReport:
    """A run as the report shows it: the summary, the settings and every pair."""

    run_name: str
    run_dir: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    pairs: tuple[PairReport, ...]


def collect(log_dir: Path, run_name: str) -> RunReport:
    """Read run ``run_name`` under ``log_dir``; a missing run is a :class:`LogsError`."""
    folder = run_dir(log_dir, run_name)
    found = discover(log_dir, run_name)
    pairs = tuple(_pair_report(i, pair, folder) for i, pair in enumerate(found, start=1))
    return RunReport(
        run_name=run_name,
        run_dir=folder,
        summary=build_summary(run_name, found),
        config=_read_object(folder / "config.json"),
        pairs=pairs,
    )


def merge_outcome(pair: PairRun, document: dict[str, Any] | None) -> str:
    """``clean``, ``union`` (merged with the union driver), ``conflict``, ``missing input``,
    ``solo`` (nothing to merge) or ``not evaluated``."""
    if pair.setting == "solo":
        return NO_MERGE
    if document is None:
        return NOT_EVALUATED
    merge = document.get("merge") or {}
    status = merge.get("status")
    if status == "clean":
        return CLEAN
    if status == "conflicts" and merge.get("strategy") == "union":
        return UNION
    if status == "missing_input":
        return MISSING_INPUT
    return CONFLICT if status else NOT_EVALUATED


def _pair_report(index: int, pair: PairRun, folder: Path) -> PairReport:
    document = read_eval(pair)
    status = status_of(document)
    features = feature_results(document) if document else []
    by_id = {int(f.get("feature_id", -1)): bool(f.get("passed")) for f in features}
    merge = (document or {}).get("merge") or {}
    diff = str(merge.get("diff") or "")
    conversation, note = _conversation(pair)
    timings = (document or {}).get("timings") or {}
    return PairReport(
        index=index,
        key=pair.key,
        setting=pair.setting,
        repo=str(pair.repo or "?"),
        task_id=pair.task_id,
        features=pair.features,
        folder=str(pair.path.relative_to(folder)),
        status=status,
        merge=merge_outcome(pair, document),
        feature_passed=tuple((f, by_id.get(f) if document else None) for f in pair.features),
        tests_passed=sum(int(f.get("tests_passed") or 0) for f in features),
        tests_failed=sum(int(f.get("tests_failed") or 0) for f in features),
        duration=_seconds(document, timings),
        timings={str(k): float(v) for k, v in timings.items() if isinstance(v, (int, float))},
        reason=failure_reason(document) if document and status in (FAILED, ERROR) else "",
        failing=tuple(_failing_tests(features)),
        diff=diff[:DIFF_LIMIT],
        diff_truncated=len(diff) > DIFF_LIMIT,
        conversation=conversation,
        conversation_note=note,
    )


def _seconds(document: dict[str, Any] | None, timings: dict[str, Any]) -> float | None:
    """The pair's evaluation time: the sum of its phases, else its ``duration_seconds``."""
    if document is None:
        return None
    phases = [v for v in timings.values() if isinstance(v, (int, float))]
    if phases:
        return round(float(sum(phases)), 3)
    value = document.get("duration_seconds")
    return float(value) if isinstance(value, (int, float)) else None


def _failing_tests(features: Sequence[dict[str, Any]]) -> Iterable[FailingTest]:
    count = 0
    for feature in features:
        for case in feature.get("test_results") or []:
            if case.get("status") not in (FAILED, ERROR):
                continue
            count += 1
            if count > FAILING_TESTS_LIMIT:
                return
            error = str(case.get("error") or "")
            if len(error) > ERROR_LIMIT:
                error = "...\n" + error[-ERROR_LIMIT:]
            yield FailingTest(
                int(feature.get("feature_id", -1)),
                str(case.get("test_name")),
                str(case.get("status")),
                error,
            )
        if not feature.get("passed") and not feature.get("test_results"):
            # No per-test results: the end of the runner's output says what happened.
            output = str(feature.get("reason") or feature.get("test_output") or "")
            if output:
                count += 1
                yield FailingTest(
                    int(feature.get("feature_id", -1)),
                    "(no per-test results)",
                    FAILED,
                    output[-ERROR_LIMIT:],
                )


def _conversation(pair: PairRun) -> tuple[tuple[dict[str, Any], ...], str]:
    """The pair's messages (at most :data:`MESSAGES_LIMIT`) and a note on what is missing."""
    path = pair.path / "conversation.json"
    if not path.is_file():
        return (), "no conversation.json" if pair.setting == "coop" else ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return (), f"conversation.json cannot be read: {exc}"
    if not isinstance(data, list):
        return (), "conversation.json holds no list of messages"
    messages = tuple(m for m in data if isinstance(m, dict))
    note = ""
    if len(messages) > MESSAGES_LIMIT:
        note = f"the first {MESSAGES_LIMIT} of {len(messages)} messages"
        messages = messages[:MESSAGES_LIMIT]
    return messages, note


def _read_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` when it is missing or unreadable (the settings
    are context in a report, never a reason not to write it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
