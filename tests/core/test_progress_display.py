"""Live progress and readable results: plain lines in pipes, rich on a terminal, -v logging."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from cooperbench.cli.console import plain_lines, setup_logging
from cooperbench.cli.progress import ProgressDisplay
from cooperbench.cli.results import echo_results, not_passed_table, summary_table
from cooperbench.evaluation.summary import failure_reason
from cooperbench.logs import PairRun
from cooperbench.progress import PROGRESS_LOGGER, StepEvent, report_step

ANSI = re.compile(r"\x1b\[")
PAIR_34 = "demo_ledger_task/7/3,4 (coop)"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "from cooperbench.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def eval_ledger(logs: Path, dataset: Path, *extra: str, env: dict[str, str] | None = None):
    return cli(
        "eval", "-n", "gold", "-t", "7", "--log-dir", str(logs), "--dataset-dir", str(dataset),
        "-c", "2", *extra, env=env,
    )  # fmt: skip


def test_help_loads_neither_rich_nor_plotting() -> None:
    probe = (
        "import sys\n"
        "from cooperbench.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'matplotlib')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_piped_eval_is_plain_lines_then_tables_and_what_failed(
    demo_logs: Path, demo_dataset: Path
) -> None:
    done = eval_ledger(demo_logs, demo_dataset, env={"TERM": "xterm-256color"})
    assert done.returncode == 0, done.stderr
    assert not ANSI.search(done.stderr) and not ANSI.search(done.stdout)
    err = done.stderr.splitlines()
    assert err[0] == "gold: 7 pair(s) to evaluate on local, 0 already evaluated"
    results = [line for line in err if re.match(r"\[\d/7\] eval ", line)]
    assert sorted(line.split("] ", 1)[0] for line in results) == [f"[{i}/7" for i in range(1, 8)]
    assert f"eval {PAIR_34}: failed" in done.stderr
    out = done.stdout.splitlines()
    assert all(line == line.rstrip() for line in out)
    header = next(line for line in out if "pass rate" in line).split()
    assert header == ["pairs", "passed", "failed", "errors", "skipped", "pass", "rate", "conflicts"]
    # The table covers the whole run: task 0's three pairs are not evaluated yet.
    assert next(line for line in out if line.startswith("overall")).split() == [
        "overall", "10", "6", "1", "0", "3", "85.7%", "33.3%",
    ]  # fmt: skip
    # Below the table: the failing pair and its first failing test with the telling line.
    listed = out[out.index("not passed") :]
    assert listed[1].split() == ["status", "pair", "reason"]
    assert len(listed) == 3 and listed[2].startswith(f"failed  {PAIR_34}  feature 3: ")
    assert "IndentationError: expected an indented block" in listed[2]


def test_terminal_eval_draws_bars_with_counts_and_colours(
    demo_logs: Path, demo_dataset: Path
) -> None:
    env = {"FORCE_COLOR": "1", "COLUMNS": "150", "TERM": "xterm-256color"}
    done = eval_ledger(demo_logs, demo_dataset, "-f", "3,4", env=env)
    assert done.returncode == 0, done.stderr
    plain_err = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", done.stderr)
    # The bar's last state: every pair, the counts, elapsed time and the ETA column.
    final = [line for line in plain_err.replace("\r", "\n").splitlines() if "evaluating" in line]
    assert final, plain_err
    assert re.search(r"1/1 +0 passed · 1 failed · 0 error +\d+:\d\d:\d\d eta", final[-1])
    assert "\x1b[31mfailed" in done.stderr
    assert "\x1b[" in done.stdout and "─" in done.stdout  # a drawn, coloured table
    assert "not passed" in done.stdout and "IndentationError" in done.stdout


def test_verbose_logs_where_results_went(demo_logs: Path, demo_dataset: Path) -> None:
    quiet = eval_ledger(demo_logs, demo_dataset, "-f", "1,2")
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr
    loud = eval_ledger(demo_logs, demo_dataset, "-f", "1,3", "-v")
    assert loud.returncode == 0, loud.stderr
    logged = [
        line for line in loud.stderr.splitlines() if " INFO cooperbench.cli.eval_cmd: " in line
    ]
    assert len(logged) == 1 and logged[0].endswith("/f1_f3/eval.json")


def test_setup_logging_levels(capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    try:
        setup_logging(0)
        assert root.handlers == before[1]
        setup_logging(2)
        logging.getLogger("cooperbench.probe").debug("deep detail")
        assert "DEBUG cooperbench.probe: deep detail" in capfd.readouterr().err
    finally:
        root.handlers[:] = before[1]
        root.setLevel(before[0])


def collect(display: ProgressDisplay, events: list[StepEvent]) -> None:
    with display:
        for event in events:
            report_step(event)


IMAGE_EVENTS = [
    StepEvent("pull", "demo:task0", "started"),
    StepEvent("pull", "demo:task0", "advanced", 2e6, 8e6, "bytes"),
    StepEvent("pull", "demo:task0", "failed", detail="pull access denied"),
    StepEvent("build", "demo:task0", "started"),
    StepEvent("build", "demo:task0", "advanced", 1, 2, "FROM base"),
    StepEvent("build", "demo:task0", "advanced", 2, 2, "RUN make"),
    StepEvent("build", "demo:task0", "finished"),
]


def test_image_steps_are_lines_in_a_pipe(capfd: pytest.CaptureFixture[str]) -> None:
    collect(ProgressDisplay(Console(file=io.StringIO(), force_terminal=False)), IMAGE_EVENTS)
    lines = capfd.readouterr().err.splitlines()
    assert lines[:5] == [
        "pulling image demo:task0",
        "could not pull image demo:task0: pull access denied",
        "building image demo:task0",
        "build demo:task0: step 1/2 FROM base",
        "build demo:task0: step 2/2 RUN make",
    ]
    assert re.fullmatch(r"built image demo:task0 \(\d+\.\ds\)", lines[5]) and len(lines) == 6


def test_image_steps_draw_a_bar_on_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    display = ProgressDisplay(console)
    with display:
        report_step(IMAGE_EVENTS[3])
        report_step(IMAGE_EVENTS[5])
        display.console.file.flush()
        progress = display._progress
        assert progress is not None
        (task,) = progress.tasks
        assert (task.description, task.completed, task.total) == ("building demo:task0", 2, 2)
        assert task.fields["amount"] == "step 2/2"
        report_step(IMAGE_EVENTS[6])
        assert progress.tasks == []
    assert "built image demo:task0" in screen.getvalue()


def test_nobody_listening_sends_nothing() -> None:
    logger = logging.getLogger(PROGRESS_LOGGER)
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        report_step(IMAGE_EVENTS[0])  # the logger is at WARNING unless a display listens
        assert seen == []
        with ProgressDisplay(Console(file=io.StringIO())):
            report_step(IMAGE_EVENTS[0])
        assert len(seen) == 1
        assert logger.propagate and logger.level == logging.NOTSET  # restored
    finally:
        logger.removeHandler(handler)


def test_bars_grow_rather_than_overflow() -> None:
    display = ProgressDisplay(Console(file=io.StringIO(), force_terminal=True))
    with display:
        display.add_bar("eval", "evaluation", 1, counts=True)
        assert display.advance("eval", "passed") == (1, 1)
        assert display.advance("eval", "error") == (2, 2)
        assert display._counts["eval"] == {"passed": 1, "failed": 0, "error": 1}


def test_failure_reasons() -> None:
    error = {"status": "error", "error_kind": "infrastructure", "error": "sandbox\nnever started"}
    assert failure_reason(error) == "infrastructure: sandbox never started"
    case = {"test_name": "t::test_b", "status": "failed", "error": "x\nE   assert 1 == 2\nmore"}
    failed = {
        "both_passed": False,
        "feature1": {"feature_id": 3, "passed": True},
        "feature2": {"feature_id": 5, "passed": False, "test_results": [case]},
    }
    assert failure_reason(failed) == "feature 5: t::test_b failed: assert 1 == 2"
    timed = {"feature1": {"feature_id": 1, "passed": False, "reason": "timed out after 9s"}}
    assert failure_reason(timed) == "feature 1: timed out after 9s"
    silent = {"feature1": {"feature_id": 2, "passed": False, "exit_code": 4, "tests_passed": 0}}
    assert failure_reason(silent) == "feature 2: exit status 4, 0 test(s) passed"


def test_tables_are_plain_aligned_text_off_a_terminal() -> None:
    summary = json.loads(
        json.dumps(
            {
                "total_runs": 2, "passed": 1, "failed": 1, "errors": 0, "skipped": 0,
                "pass_rate": 0.5, "merge_conflict_rate": 0.0,
                "by_repo": {"r[x]_task": {"total_runs": 2, "passed": 1, "failed": 1, "errors": 0,
                                          "skipped": 0, "pass_rate": 0.5,
                                          "merge_conflict_rate": 0.0}},
            }
        )
    )  # fmt: skip
    lines = plain_lines(summary_table(summary))
    assert lines[1].split() == ["r[x]_task", "2", "1", "1", "0", "0", "50.0%", "0.0%"]
    assert lines[2].split() == ["overall", "2", "1", "1", "0", "0", "50.0%", "0.0%"]
    many = [
        {"run": f"r/0/{i},9", "setting": "coop", "status": "failed", "reason": "[b]"}
        for i in range(60)
    ]
    listed = plain_lines(not_passed_table(many))
    assert listed[0] == "not passed" and listed[1].split() == ["status", "pair", "reason"]
    assert listed[2].split() == ["failed", "r/0/0,9", "(coop)", "[b]"]
    assert len(listed) == 2 + 60


def test_at_most_fifty_pairs_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = {"by_repo": {}, "total_runs": 53, "passed": 0, "failed": 53, "errors": 0}
    summary.update({"skipped": 0, "pass_rate": 0.0, "merge_conflict_rate": 0.0})
    failing = {"both_passed": False, "feature1": {"feature_id": 1, "passed": False}}
    pairs = []
    for index in range(53):
        pair = PairRun("exp", "coop", "r_task", index, (1, 2), tmp_path / str(index))
        pair.path.mkdir()
        pair.eval_path.write_text(json.dumps(failing))
        pairs.append(pair)
    echo_results(summary, "exp", pairs)
    out = capsys.readouterr().out.splitlines()
    listed = out[out.index("not passed") + 2 :]
    assert len(listed) == 51 and all(line.startswith("failed  r_task/") for line in listed[:50])
    assert listed[-1] == "... and 3 more: cooperbench report -n exp lists them all"


def test_backends_table_rows_start_with_the_name() -> None:
    done = cli("backends")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["BACKEND", "DISTRIBUTION", "VERSION", "STATUS"]
    assert any(line.startswith("local ") and " usable " in line for line in lines)
    assert all(line == line.rstrip() for line in lines) and not ANSI.search(done.stdout)
