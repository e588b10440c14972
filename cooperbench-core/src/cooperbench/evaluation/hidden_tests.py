"""The tests a feature's hidden tests patch adds, and whether a run reported each one.

A feature passes only if every test its ``tests.patch`` adds was reported passed: a run
that reports other tests, or fewer, did not check the feature, whatever its exit status.
Python (pytest) and Go (``go test``) test functions are recognised; for other languages
no names are required.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from cooperbench.evaluation.patches import split_files
from cooperbench.evaluation.types import PASSED, TestCaseResult

_PYTHON_TEST = re.compile(r"^\+\s*(?:async\s+)?def\s+(test\w*)\s*\(")
_GO_TEST = re.compile(r"^\+func\s+(Test\w+)\s*\(")


@attrs.frozen
class HiddenTest:
    """One test function a tests patch adds: ``module`` is ``tests.test_x`` or ``""`` for Go."""

    module: str
    name: str

    def matches(self, case: TestCaseResult) -> bool:
        """True when ``case`` is this test (or one of its parameters or subtests)."""
        if not self.module:
            return case.test_name == self.name or case.test_name.startswith(self.name + "/")
        where, _, leaf = case.test_name.rpartition("::")
        if where != self.module and not where.startswith(self.module + "."):
            return False
        return leaf.split("[", 1)[0] == self.name

    def __str__(self) -> str:
        return f"{self.module}::{self.name}" if self.module else self.name


def added_tests(tests_patch: str) -> tuple[HiddenTest, ...]:
    """The test functions ``tests_patch`` adds, in order."""
    found: list[HiddenTest] = []
    for path, chunk in split_files(tests_patch):
        if path.endswith(".py"):
            module = path[: -len(".py")].replace("/", ".")
            pattern = _PYTHON_TEST
        elif path.endswith("_test.go"):
            module, pattern = "", _GO_TEST
        else:
            continue
        for line in chunk.splitlines():
            match = pattern.match(line)
            if match and HiddenTest(module, match.group(1)) not in found:
                found.append(HiddenTest(module, match.group(1)))
    return tuple(found)


def missing(required: Sequence[HiddenTest], cases: Sequence[TestCaseResult]) -> list[str]:
    """The required tests that were not reported, or not every run of which passed."""
    absent = []
    for test in required:
        runs = [case for case in cases if test.matches(case)]
        if not runs or any(case.status != PASSED for case in runs):
            absent.append(str(test))
    return absent
