"""Per-test results from structured reports (JUnit XML) or per-test output lines.

pytest runners write a JUnit XML report through cooperbench's report plugin
(:mod:`cooperbench.evaluation.cooperbench_report`), so their results never come from
scraping text: a program that prints "99 passed" changes nothing. ``go test -v``, ``cargo test`` and jest/vitest print one line per test, which
is parsed when no report exists.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from cooperbench.evaluation.types import ERROR, FAILED, PASSED, SKIPPED, TestCaseResult

_ERROR_TEXT_LIMIT = 2000

_GO_LINE = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)")
_CARGO_LINE = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)\s*$")
_JEST_LINE = re.compile(r"^\s*(✓|✔|√|✕|✗|×|○|↓)\s+(.+?)(?:\s+\((\d+(?:\.\d+)?)\s*m?s\))?\s*$")
_JEST_STATUS = {"✓": PASSED, "✔": PASSED, "√": PASSED, "✕": FAILED, "✗": FAILED, "×": FAILED}


def parse_junit(xml: bytes) -> list[TestCaseResult] | None:
    """Test cases of a JUnit XML report, or ``None`` if it is not a readable report."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    if root.tag not in ("testsuites", "testsuite"):
        return None
    results = []
    for case in root.iter("testcase"):
        name = case.get("name", "")
        classname = case.get("classname", "")
        full = f"{classname}::{name}" if classname else name
        status, error = PASSED, None
        for child in case:
            if child.tag in ("failure", "error"):
                status = FAILED if child.tag == "failure" else ERROR
                error = (child.get("message") or child.text or "").strip()[:_ERROR_TEXT_LIMIT]
                break
            if child.tag == "skipped":
                status = SKIPPED
        try:
            duration = float(case.get("time", "0") or 0)
        except ValueError:
            duration = 0.0
        results.append(TestCaseResult(full, status, duration, error or None))
    return results


def parse_go(output: str) -> list[TestCaseResult]:
    """``--- PASS: TestX (0.01s)`` lines of ``go test -v``."""
    status_of = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED}
    results = []
    for line in output.splitlines():
        match = _GO_LINE.match(line)
        if match:
            results.append(
                TestCaseResult(match.group(2), status_of[match.group(1)], float(match.group(3)))
            )
    return results


def parse_cargo(output: str) -> list[TestCaseResult]:
    """``test path::name ... ok`` lines of ``cargo test``."""
    status_of = {"ok": PASSED, "FAILED": FAILED, "ignored": SKIPPED}
    return [
        TestCaseResult(match.group(1), status_of[match.group(2)])
        for match in map(_CARGO_LINE.match, output.splitlines())
        if match
    ]


def parse_jest(output: str) -> list[TestCaseResult]:
    """``✓ name (3 ms)`` / ``✕ name`` lines of jest and vitest."""
    results = []
    for line in output.splitlines():
        match = _JEST_LINE.match(line)
        if match:
            status = _JEST_STATUS.get(match.group(1), SKIPPED)
            duration = float(match.group(3)) / 1000 if match.group(3) else 0.0
            results.append(TestCaseResult(match.group(2).strip(), status, duration))
    return results


def results_from_output(output: str) -> tuple[list[TestCaseResult], str]:
    """Per-test lines from runner output, and which format they came from."""
    for source, parser in (("go", parse_go), ("cargo", parse_cargo), ("jest", parse_jest)):
        found = parser(output)
        if found:
            return found, source
    return [], "none"


def count(results: list[TestCaseResult]) -> tuple[int, int]:
    """(passed, failed) where errors count as failures and skips as neither."""
    passed = sum(1 for r in results if r.status == PASSED)
    failed = sum(1 for r in results if r.status in (FAILED, ERROR))
    return passed, failed


_PYTEST_SUMMARY = re.compile(
    r"^=*\s*((?:\d+ [a-z]+(?:, )?)+|no tests ran)(?: in [\d.]+s.*?)?\s*=*\s*$", re.MULTILINE
)


def pytest_summary(output: str) -> dict[str, int] | None:
    """The counts of pytest's last summary line (``3 passed, 1 failed in 0.1s``), if any.

    Plural words are folded (``errors`` -> ``error``, ``warnings`` -> ``warning``).
    """
    found = [m for m in _PYTEST_SUMMARY.finditer(output) if " in " in m.group(0)]
    if not found:
        return None
    counts: dict[str, int] = {}
    text = found[-1].group(1)
    if text == "no tests ran":
        return counts
    for part in text.split(", "):
        number, word = part.split(" ", 1)
        word = word.rstrip("s") if word in ("errors", "warnings") else word
        counts[word] = counts.get(word, 0) + int(number)
    return counts
