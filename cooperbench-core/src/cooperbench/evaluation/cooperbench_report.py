"""pytest plugin staged into evaluation sandboxes: each test's outcome on a private descriptor.

Evaluation loads it with ``-p cooperbench_report`` from a scratch directory; cooperbench
itself never imports it. The report goes to an inherited file descriptor backed by a
file that has already been deleted, so no report path exists for the code under test
to find in the environment or on disk. At import, before any conftest file or module
of the repository is imported, the plugin takes the descriptor over, closes the
inherited one and removes its own traces from the environment, then writes
``started``: a run without that line never reached pytest. At the end of the session
it writes a JUnit XML report.

It runs on the task image's interpreter, so it uses nothing beyond the standard library.
"""

from __future__ import annotations

import os
import sys
from typing import Any

FD_VARIABLE = "COOPERBENCH_REPORT_FD"
DIR_VARIABLE = "COOPERBENCH_REPORT_DIR"
_OPTION = "-p cooperbench_report"

_state: dict[str, Any] = {"fd": -1, "cases": {}, "order": []}
# What an XML attribute value may not hold as is. (xml.sax.saxutils.quoteattr does the
# same, but importing it pulls in urllib and http, about 10 ms on every test run.)
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def _take_descriptor() -> None:
    number = os.environ.pop(FD_VARIABLE, "")
    directory = os.environ.pop(DIR_VARIABLE, "")
    os.environ["PYTEST_ADDOPTS"] = os.environ.get("PYTEST_ADDOPTS", "").replace(_OPTION, "").strip()
    if directory:
        # The scratch directory is only needed to import this module.
        sys.path[:] = [entry for entry in sys.path if entry != directory]
        kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p != directory]
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    if not number.isdigit():
        return
    try:
        private = os.dup(int(number))  # not inherited by subprocesses
        os.close(int(number))
    except OSError:
        return
    _state["fd"] = private
    os.write(private, b"started\n")


_take_descriptor()


def _record(nodeid: str, status: str, duration: float, message: str | None) -> None:
    cases = _state["cases"]
    if nodeid not in cases:
        cases[nodeid] = {"status": "passed", "duration": 0.0, "message": None}
        _state["order"].append(nodeid)
    case = cases[nodeid]
    case["duration"] += duration
    # The worst outcome of setup, call and teardown is the test's.
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    if rank[status] > rank[case["status"]]:
        case["status"] = status
        case["message"] = message


def _text(value: Any) -> str:
    # XML 1.0 allows no control characters but tab and newline (ANSI colours are common).
    return "".join(c for c in str(value)[-2000:] if c >= " " or c in "\t\n")


def pytest_runtest_logreport(report: Any) -> None:
    """Record one phase (setup, call, teardown) of one test."""
    message = _text(report.longrepr) if report.failed else None
    if report.when == "call":
        status = {"passed": "passed", "failed": "failed", "skipped": "skipped"}[report.outcome]
    elif report.failed:
        status = "error"
    elif report.skipped:
        status = "skipped"
    else:
        status = "passed"
    _record(report.nodeid, status, float(getattr(report, "duration", 0.0) or 0.0), message)


def pytest_collectreport(report: Any) -> None:
    """A module that cannot be collected is an error, like pytest's own JUnit report."""
    if report.failed:
        _record(report.nodeid or "collection", "error", 0.0, _text(report.longrepr))


def _quoteattr(value: str) -> str:
    """``value`` as a double-quoted XML attribute value."""
    return f'"{value.translate(_ATTRIBUTE_ESCAPES)}"'


def _names(nodeid: str) -> tuple[str, str]:
    path, _, rest = nodeid.partition("::")
    module = path[:-3] if path.endswith(".py") else path
    parts = [module.replace("/", "."), *(rest.split("::")[:-1] if rest else [])]
    name = rest.split("::")[-1] if rest else path
    return ".".join(parts), name


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    """Write the JUnit XML report and close the descriptor."""
    fd = _state["fd"]
    if fd < 0:
        return
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<testsuite>"]
    for nodeid in _state["order"]:
        case = _state["cases"][nodeid]
        classname, name = _names(nodeid)
        attributes = f"classname={_quoteattr(classname)} name={_quoteattr(name)}"
        attributes += f' time="{case["duration"]:.3f}"'
        status = case["status"]
        if status == "passed":
            lines.append(f"<testcase {attributes}/>")
            continue
        tag = {"failed": "failure", "error": "error", "skipped": "skipped"}[status]
        message = _quoteattr(case["message"] or "")
        lines.append(f"<testcase {attributes}><{tag} message={message}/></testcase>")
    lines.append("</testsuite>\n")
    data = "\n".join(lines).encode("utf-8", "replace")
    while data:
        data = data[os.write(fd, data) :]
    os.close(fd)
    _state["fd"] = -1
