"""``cooperbench report``: one offline HTML page, checked in headless Chromium.

The page is opened through the DevTools protocol over a pipe (``--remote-debugging-pipe``,
no port, no websocket library): console messages, uncaught exceptions, log entries
(CSP violations, failed loads) and every network request are recorded, and the page is
read with ``Runtime.evaluate``. Chromium gets a proxy on 127.0.0.1 and a resolver that
finds no host, so whatever happens nothing leaves the machine.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cooperbench.evaluation.api import evaluate

ROOT = Path(__file__).resolve().parents[2]
DEMO_LOGS = ROOT / "examples" / "logs"
DEMO_DATASET = ROOT / "examples" / "dataset"
SCREENSHOT = ROOT / "docs" / "images" / "report.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    code = "from cooperbench.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, **kwargs
    )


class Page:
    """A headless Chromium tab driven over the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None, "chromium is not installed (scripts/setup-system.sh)"
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Above 9, so bash's "3<&N 4>&M" cannot clobber one with the other (dash would
        # refuse fds above 9: bash it is).
        to_chrome_r, from_chrome_w = (_high(to_chrome_r), _high(from_chrome_w))
        flags = [
            "--headless",
            "--no-sandbox",  # tests run as root
            "--disable-gpu",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--metrics-recording-only",
            # No request can leave the machine: names resolve nowhere, and anything
            # else goes to a proxy on the loopback port 9 (discard) that refuses it.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--window-size=1280,900",
            "about:blank",
        ]
        profile.mkdir(parents=True, exist_ok=True)
        self.log_path = profile / "chromium.log"
        self._log = self.log_path.open("wb")
        # Chromium reads commands from fd 3 and writes to fd 4.
        self._process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', CHROMIUM, *flags],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session=True)

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_chrome, 65536)
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        waiting = self._replies.get(message["id"])
                    if waiting is not None:
                        waiting.put(message)
                else:
                    self.events.append(message)

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = False):
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            self._replies[ident] = queue.Queue()
        command: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = self._session
        try:
            os.write(self._to_chrome, json.dumps(command).encode() + b"\0")
        except BrokenPipeError:
            raise AssertionError(f"chromium exited: {self.log_path.read_text()[-3000:]}") from None
        reply = self._replies[ident].get(timeout=60)
        assert "error" not in reply, (method, reply["error"])
        return reply.get("result", {})

    def open(self, url: str) -> None:
        """Navigate and wait for the load event (scripts have run by then)."""
        seen = len(self.events)
        self.send("Page.navigate", {"url": url}, session=True)
        for _ in range(600):
            if any(e.get("method") == "Page.loadEventFired" for e in self.events[seen:]):
                return
            threading.Event().wait(0.05)
        raise AssertionError(f"{url} never finished loading")

    def js(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
                found.append("console: " + " ".join(str(a.get("value")) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append("exception: " + str(details.get("exception", {}).get("description")))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append("log: " + params["entry"]["text"])
        return found

    def requests(self) -> list[str]:
        """Every URL the page asked for."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, path: Path) -> None:
        height = self.js("document.documentElement.scrollHeight")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": 1280,
                "height": min(int(height), 2400),
                "deviceScaleFactor": 1,
                "mobile": False,
            },
            session=True,
        )
        shot = self.send("Page.captureScreenshot", {"format": "png"}, session=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing anyway
            self.send("Browser.close")
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_chrome)
        self._log.close()


def _high(fd: int) -> int:
    """``fd`` moved to a descriptor number above 9."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    browser = Page(tmp_path / "profile")
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def evaluated_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's gold logs, evaluated on the local backend."""
    logs = tmp_path_factory.mktemp("report") / "logs"
    shutil.copytree(
        DEMO_LOGS, logs, ignore=shutil.ignore_patterns("eval.json", "eval_summary.json")
    )
    summary = evaluate("gold", log_dir=logs, dataset_dir=DEMO_DATASET, concurrency=4)
    assert summary["incomplete"] == []
    return logs


def expected_demo() -> dict[str, Any]:
    """The demo's designed verdicts (examples/logs/expected.json), counted."""
    designed = json.loads((DEMO_LOGS / "expected.json").read_text())
    gold = {k.removeprefix("gold/"): v for k, v in designed.items() if k.startswith("gold/")}
    merges = {"clean": "clean", "conflicts": "union", None: "solo"}
    counts: dict[str, Any] = {"pairs": len(gold), "passed": 0, "by_repo": {}, "merge": {}}
    for key, verdict in gold.items():
        repo = key.split("/")[1]
        passed = verdict["both_passed"]
        counts["passed"] += passed
        tally = counts["by_repo"].setdefault(repo, [0, 0])
        tally[0] += 1
        tally[1] += passed
        merge = counts["merge"].setdefault(merges[verdict["merge_status"]], [0, 0])
        merge[0 if passed else 1] += 1
    return counts


def test_the_detector_sees_console_errors_exceptions_and_requests(
    page: Page, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>x</p>"
        '<script>console.error("boom"); missingFunction();</script>'
        '<img src="http://example.invalid/a.png"></body></html>'
    )
    page.open(broken.as_uri())
    problems = " | ".join(page.problems())
    assert "console: boom" in problems and "missingFunction" in problems
    assert "http://example.invalid/a.png" in page.requests()


def test_report_renders_offline_with_the_demos_numbers(
    page: Page, evaluated_demo: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "demo.html"
    done = cli("report", "-n", "gold", "--log-dir", str(evaluated_demo), "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    page.open(target.as_uri() + "#sort=-seconds")

    assert page.problems() == []
    assert page.requests() == [target.as_uri()]  # the page, nothing else
    assert page.js("document.body.dataset.ready") == "true"

    want = expected_demo()
    cards = page.js(
        "Object.fromEntries(['pairs','pass-rate','passed','failed','errors','skipped']"
        ".map(id => [id, document.getElementById('total-' + id).textContent]))"
    )
    failed = want["pairs"] - want["passed"]
    assert cards == {
        "pairs": str(want["pairs"]),
        "pass-rate": f"{want['passed'] / want['pairs'] * 100:.1f}%",
        "passed": str(want["passed"]),
        "failed": str(failed),
        "errors": "0",
        "skipped": "0",
    }
    repos = page.js(
        "[...document.querySelectorAll('#repo-table tbody tr')]"
        ".map(r => [...r.cells].map(c => c.textContent))"
    )
    for repo, (pairs, passed) in want["by_repo"].items():
        rate = f"{passed / (pairs) * 100:.1f}%"
        assert [repo, str(pairs), str(passed), str(pairs - passed), "0", "0", rate] in repos
    merges = page.js(
        "Object.fromEntries([...document.querySelectorAll('#merge-table tbody tr')]"
        ".map(r => [r.cells[0].textContent, [r.cells[1].textContent, r.cells[2].textContent]]))"
    )
    assert merges == {m: [str(p), str(f)] for m, (p, f) in want["merge"].items()}

    # Every chart is drawn: inline SVGs with a real size, one matrix per task and setting.
    sizes = page.js(
        "[...document.querySelectorAll('svg.chart')].map(s => s.getBoundingClientRect())"
        ".map(r => [Math.round(r.width), Math.round(r.height)])"
    )
    assert len(sizes) == 3 + 4 and all(w > 100 and h > 50 for w, h in sizes), sizes

    # The table came sorted by the URL, slowest first; a click sorts it again.
    seconds = page.js(
        "[...document.querySelectorAll('#pairs tbody tr')].map(r => Number(r.cells[8].dataset.value))"
    )
    assert len(seconds) == want["pairs"] and seconds == sorted(seconds, reverse=True)
    order = page.js(
        "document.querySelector('#pairs th[data-key=verdict]').click();"
        "[...document.querySelectorAll('#pairs tbody tr')].map(r => r.dataset.status)"
    )
    assert order == sorted(order, key=["failed", "error", "passed", "skipped"].index)

    # The failing pair links to its failing tests, merged diff and conversation.
    links = page.js(
        "[...document.querySelector('#pairs tbody tr[data-status=failed]')"
        ".querySelectorAll('td.links a')].map(a => a.getAttribute('href'))"
    )
    assert [link.rsplit("-", 1)[-1] for link in links[1:]] == ["tests", "diff", "conversation"]
    for link in links:
        assert page.js(f"document.getElementById('{link[1:]}') !== null"), link
    tests = page.js(f"document.getElementById('{links[1][1:]}').textContent")
    assert "IndentationError" in tests
    diff = page.js(f"document.getElementById('{links[2][1:]}').textContent")
    assert "diff --git a/ledger/core.py" in diff
    talk = page.js(f"document.getElementById('{links[3][1:]}').textContent")
    said = json.loads(
        (evaluated_demo / "gold/coop/demo_ledger_task/7/f3_f4/conversation.json").read_text()
    )
    assert said and all(m["message"] in talk for m in said) and "agent1 → agent2" in talk

    if os.environ.get("COOPERBENCH_UPDATE_SCREENSHOT"):
        page.open(target.as_uri())
        page.screenshot(SCREENSHOT)


def test_the_docs_show_a_screenshot_of_the_report() -> None:
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "images/report.png" in (ROOT / "docs" / "report.md").read_text()


def test_report_defaults_to_the_run_folder(evaluated_demo: Path) -> None:
    done = cli("report", "-n", "gold", "--log-dir", str(evaluated_demo))
    assert done.returncode == 0, done.stderr
    written = evaluated_demo / "gold" / "report.html"
    assert done.stdout.strip() == str(written)
    html = written.read_text()
    # Self-contained: no reference to anything outside the page.
    assert "<script src" not in html and "<link" not in html and "data:image" not in html
    assert not re.search(r"url\((?!#)", html)  # only references inside the page
    assert "default-src 'none'" in html


def test_report_of_an_unknown_run_is_one_line(tmp_path: Path) -> None:
    done = cli("report", "-n", "nope", "--log-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: no run 'nope'") and done.stderr.count("\n") == 1


def test_report_without_matplotlib_says_what_to_install(tmp_path: Path) -> None:
    # A module set to None in sys.modules cannot be imported: matplotlib is "missing".
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from cooperbench.cli.main import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "report", "-n", "x", "--log-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "pip install 'cooperbench-core[report]'" in done.stderr
