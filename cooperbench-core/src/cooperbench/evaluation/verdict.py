"""One feature's verdict from everything its test run left: status, report, output.

A feature passes only when the evidence agrees: the runner exited 0, the report (or the
per-test output lines) has at least one passed test and none failed, every test the
feature's tests patch adds was reported passed, and pytest's own summary line (when the
runner printed one) counts the same passes and failures as the report. When the
evidence disagrees the feature fails and ``suspicious`` says why: a disagreement is
what tampering with the test run looks like.

A run in which the test runner never started is no verdict at all (see
:func:`never_started`): the harness or the image is at fault, not the agents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from cooperbench.evaluation import testresults
from cooperbench.evaluation.hidden_tests import HiddenTest, missing
from cooperbench.evaluation.types import TestCaseResult

# What a shell or interpreter prints when the test runner itself is missing. Checked
# only when the report plugin never loaded, i.e. before any code under test ran.
_RUNNER_MISSING = re.compile(
    r"No module named '?pytest'?$|No module named '?cooperbench_report'?"
    r"|Error importing plugin \"cooperbench_report\"|: (?:command )?not found$",
    re.MULTILINE,
)
#: Exit statuses of a shell whose command could not be found (127) or run (126).
_NOT_RUN = (126, 127)


@attrs.frozen
class Evidence:
    """What one feature's test run produced."""

    exit_code: int
    output: str
    stdout: str
    #: The report plugin loaded in pytest (before any code under test was imported).
    started: bool
    #: Per-test results of the plugin's report, or ``None`` when there was none.
    report: Sequence[TestCaseResult] | None
    hidden: Sequence[HiddenTest] = ()


@attrs.frozen
class Verdict:
    """A feature's outcome: its tests, whether it passed, and why not when it is suspicious."""

    cases: tuple[TestCaseResult, ...]
    source: str
    passed: bool
    suspicious: str | None = None


def never_started(evidence: Evidence) -> str | None:
    """Why the test runner never started, or ``None`` when it did (or may have).

    Only a run with no report plugin, no per-test results and the mark of a missing
    runner or interpreter counts: exit status 126/127 of the runner's shell, or the
    interpreter saying pytest (or the report plugin) cannot be imported. Code under
    test cannot fake it: for pytest it is only imported after the plugin announced
    itself, and go/cargo/jest exit 1 or 101 when a test binary fails.
    """
    if evidence.started or evidence.report is not None:
        return None
    if testresults.results_from_output(evidence.output)[0]:
        return None
    found = _RUNNER_MISSING.search(evidence.output)
    if evidence.exit_code in _NOT_RUN or found:
        detail = found.group(0).strip(": ") if found else f"exit status {evidence.exit_code}"
        return f"the test runner never started ({detail})"
    return None


def judge(evidence: Evidence) -> Verdict:
    """The verdict the evidence supports (see the module docstring)."""
    if evidence.report is not None:
        cases, source = list(evidence.report), "junit"
    else:
        cases, source = testresults.results_from_output(evidence.output)
    passed, failed = testresults.count(cases)
    all_passed = passed > 0 and failed == 0
    reason = _disagreement(evidence, cases, all_passed)
    ok = evidence.exit_code == 0 and all_passed and reason is None
    return Verdict(tuple(cases), source, ok, reason)


def _disagreement(evidence: Evidence, cases: list[TestCaseResult], all_passed: bool) -> str | None:
    if evidence.started and evidence.report is None and evidence.exit_code == 0:
        return "pytest started but ended without writing its report"
    if all_passed and evidence.exit_code != 0:
        return f"every reported test passed but the runner exited {evidence.exit_code}"
    if not all_passed:
        return None
    absent = missing(evidence.hidden, cases)
    if absent:
        more = f" and {len(absent) - 3} more" if len(absent) > 3 else ""
        return f"hidden tests not reported passed: {', '.join(absent[:3])}{more}"
    if evidence.report is not None:
        summary = testresults.pytest_summary(evidence.stdout)
        if summary is not None:
            passed, failed = testresults.count(cases)
            said_passed = summary.get("passed", 0) + summary.get("xpassed", 0)
            said_failed = summary.get("failed", 0) + summary.get("error", 0)
            if said_passed != passed or (said_failed > 0) != (failed > 0):
                return (
                    f"pytest's summary ({said_passed} passed, {said_failed} failed) "
                    f"disagrees with its report ({passed} passed, {failed} failed)"
                )
    return None
