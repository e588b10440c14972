"""Per-test results from JUnit XML and from go, cargo and jest output."""

from __future__ import annotations

from cooperbench.evaluation.testresults import (
    count,
    parse_cargo,
    parse_go,
    parse_jest,
    parse_junit,
    results_from_output,
)

JUNIT = b"""<?xml version="1.0"?>
<testsuites><testsuite name="pytest" tests="4">
 <testcase classname="tests.test_a" name="test_ok" time="0.01"/>
 <testcase classname="tests.test_a" name="test_bad" time="0.02"><failure message="assert 1 == 2">trace</failure></testcase>
 <testcase classname="tests.test_a" name="test_boom"><error message="fixture broke"/></testcase>
 <testcase classname="tests.test_a" name="test_skip"><skipped message="later"/></testcase>
</testsuite></testsuites>"""


def test_junit() -> None:
    cases = parse_junit(JUNIT)
    assert cases is not None
    assert [(c.test_name, c.status) for c in cases] == [
        ("tests.test_a::test_ok", "passed"),
        ("tests.test_a::test_bad", "failed"),
        ("tests.test_a::test_boom", "error"),
        ("tests.test_a::test_skip", "skipped"),
    ]
    assert cases[1].error == "assert 1 == 2"
    assert count(cases) == (1, 2)


def test_junit_garbage_is_not_a_report() -> None:
    assert parse_junit(b"99 passed") is None
    assert parse_junit(b"<html/>") is None


def test_go() -> None:
    output = "=== RUN   TestA\n--- PASS: TestA (0.00s)\n--- FAIL: TestB (0.12s)\n    --- PASS: TestB/sub (0.01s)\nok\n"
    cases = parse_go(output)
    assert [(c.test_name, c.status) for c in cases] == [
        ("TestA", "passed"),
        ("TestB", "failed"),
        ("TestB/sub", "passed"),
    ]
    assert cases[1].duration == 0.12


def test_cargo() -> None:
    output = "running 3 tests\ntest a::works ... ok\ntest a::broken ... FAILED\ntest a::later ... ignored\n"
    assert [(c.test_name, c.status) for c in parse_cargo(output)] == [
        ("a::works", "passed"),
        ("a::broken", "failed"),
        ("a::later", "skipped"),
    ]


def test_jest() -> None:
    output = "PASS src/a.test.js\n  ✓ adds numbers (3 ms)\n  ✕ subtracts\n  ○ skipped thing\n"
    cases = parse_jest(output)
    assert [(c.test_name, c.status) for c in cases] == [
        ("adds numbers", "passed"),
        ("subtracts", "failed"),
        ("skipped thing", "skipped"),
    ]
    assert cases[0].duration == 0.003


def test_plain_pass_lines_are_not_results() -> None:
    assert results_from_output("===== 99 passed in 0.1s =====\n5 passed\n") == ([], "none")
