"""The one progress display of ``run`` and ``eval``: bars with ETA, verdict counts, images.

On a terminal it is a rich live display on stderr: one bar per phase (agents,
evaluation) with elapsed time, ETA and live passed / failed / error counts, a bar per
image a backend is pulling or building (events of :mod:`cooperbench.progress`), and
finished pairs printed above the bars. Anywhere else it prints the same news as plain
lines, one event per line, and no bars: pipes and CI logs stay readable and stable.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

import click

from cooperbench.cli.console import is_live
from cooperbench.evaluation.types import ERROR, FAILED, PASSED
from cooperbench.progress import ADVANCED, FINISHED, PROGRESS_LOGGER, STARTED, StepEvent, step_of
from cooperbench.progress import FAILED as STEP_FAILED

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from cooperbench.evaluation.types import EvalResult

#: Colour of each verdict on a terminal.
STATUS_STYLES = {PASSED: "green", FAILED: "red", ERROR: "yellow"}
_COUNTED = (PASSED, FAILED, ERROR)
_DOING = {"build": "building", "pull": "pulling"}
_DONE = {"build": "built", "pull": "pulled"}


def styled_status(status: str) -> str:
    """``status`` in rich markup, coloured by verdict."""
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


class ProgressDisplay:
    """Bars and lines for a long command; use as a context manager around the work.

    ``add_bar`` starts a phase, ``advance`` counts a finished pair (with its verdict,
    when it has one), ``line`` prints news. Every method may be called from any thread.
    """

    def __init__(self, console: Console) -> None:
        """Draw on ``console`` (stderr) when it is a terminal; print lines otherwise."""
        self.console = console
        self.live = is_live(console)
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._bars: dict[str, TaskID] = {}
        self._done: dict[str, int] = {}
        self._total: dict[str, int] = {}
        self._counts: dict[str, dict[str, int]] = {}
        self._steps: dict[tuple[str, str], tuple[TaskID | None, float]] = {}
        self._handler = _StepHandler(self)
        self._saved_logger: tuple[int, bool] | None = None
        self._closed = False

    def __enter__(self) -> ProgressDisplay:
        logger = logging.getLogger(PROGRESS_LOGGER)
        self._saved_logger = (logger.level, logger.propagate)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # shown here; not a second time by -v logging
        logger.addHandler(self._handler)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        logger = logging.getLogger(PROGRESS_LOGGER)
        logger.removeHandler(self._handler)
        if self._saved_logger is not None:
            logger.setLevel(self._saved_logger[0])
            logger.propagate = self._saved_logger[1]
        with self._lock:
            self._closed = True
            progress, self._progress = self._progress, None
            steps = [task_id for task_id, _ in self._steps.values() if task_id is not None]
        if progress is not None:
            for task_id in steps:  # unfinished image steps: only the pair bars stay on screen
                progress.remove_task(task_id)
            progress.stop()

    def _started(self) -> Progress | None:
        """The live bars, started on first use (so an early error draws nothing)."""
        if self._progress is None and self.live and not self._closed:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=30),
                TextColumn("{task.fields[amount]}"),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.start()
        return self._progress

    def add_bar(self, key: str, label: str, total: int, counts: bool = False) -> None:
        """Start a bar ``key`` for ``total`` pairs; ``counts`` shows verdict counts on it."""
        with self._lock:
            self._done[key], self._total[key] = 0, max(total, 0)
            if counts:
                self._counts[key] = dict.fromkeys(_COUNTED, 0)
            progress = self._started()
            if progress is not None:
                self._bars[key] = progress.add_task(
                    label, total=max(total, 0), amount=f"0/{total}", counts=self._counts_text(key)
                )

    def advance(self, key: str, status: str | None = None) -> tuple[int, int]:
        """Count one more pair of bar ``key`` (``status``: its verdict); return (done, total).

        A bar whose total was an estimate grows rather than overflowing.
        """
        with self._lock:
            if status is not None and key in self._counts and status in self._counts[key]:
                self._counts[key][status] += 1
            done = self._done[key] = self._done.get(key, 0) + 1
            total = self._total[key] = max(self._total.get(key, 0), done)
            if self._progress is not None and key in self._bars:
                self._progress.update(
                    self._bars[key],
                    completed=done,
                    total=total,
                    amount=f"{done}/{total}",
                    counts=self._counts_text(key),
                )
            return done, total

    def line(self, text: str, markup: str | None = None) -> None:
        """Print ``text`` (above the bars on a terminal, where ``markup`` is shown instead)."""
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(markup if markup is not None else text)
            else:
                click.echo(text, err=True)

    def eval_result(self, result: EvalResult, *, numbered: bool = False) -> None:
        """Count ``result`` on the ``eval`` bar and print its verdict line (``[n/N]`` first
        when ``numbered``): pair, setting, verdict, and the error's kind and text."""
        from rich.markup import escape

        done, total = self.advance("eval", result.status)
        detail = f" ({result.error_kind}: {result.error})" if result.error else ""
        count = f"[{done}/{total}] " if numbered else ""
        head = f"{count}eval {result.pair.key} ({result.pair.setting}): "
        self.line(
            f"{head}{result.status}{detail}",
            f"{escape(head)}{styled_status(result.status)}{escape(detail)}",
        )

    def step(self, event: StepEvent) -> None:
        """Show an image pull or build: a bar on a terminal, start and end lines elsewhere."""
        key = (event.kind, event.subject)
        with self._lock:
            known = self._steps.get(key)
            if event.state == STARTED or known is None:
                task_id = None
                progress = self._started()
                if progress is not None:
                    task_id = progress.add_task(
                        f"{_DOING.get(event.kind, event.kind)} {event.subject}",
                        total=None,
                        amount="",
                        counts="",
                    )
                known = (task_id, time.monotonic())
                self._steps[key] = known
                if self._progress is None and event.state == STARTED:
                    click.echo(
                        f"{_DOING.get(event.kind, event.kind)} image {event.subject}", err=True
                    )
            task_id, began = known
            if event.state == ADVANCED:
                self._advance_step(task_id, event)
                return
            if event.state not in (FINISHED, STEP_FAILED):
                return
            del self._steps[key]
            if self._progress is not None and task_id is not None:
                self._progress.remove_task(task_id)
            text, markup = _step_end(event, time.monotonic() - began)
            if self._progress is not None:
                self._progress.console.print(markup)
            else:
                click.echo(text, err=True)

    def _advance_step(self, task_id: TaskID | None, event: StepEvent) -> None:
        if self._progress is None:
            if event.kind == "build" and event.completed is not None:
                # Build steps are few and tell a CI log where a slow build is.
                click.echo(
                    f"build {event.subject}: step {event.completed:g}/{event.total or 0:g}"
                    + (f" {event.detail}" if event.detail else ""),
                    err=True,
                )
            return
        if task_id is None:
            return
        self._progress.update(
            task_id,
            completed=event.completed or 0,
            total=event.total,
            amount=_amount(event),
        )

    def _counts_text(self, key: str) -> str:
        counts = self._counts.get(key)
        if not counts:
            return ""
        return " · ".join(f"{counts[s]} {styled_status(s)}" for s in _COUNTED)


def _amount(event: StepEvent) -> str:
    if event.completed is None or not event.total:
        return ""
    if event.detail == "bytes":
        return f"{event.completed / 1e6:.1f}/{event.total / 1e6:.1f} MB"
    return f"step {event.completed:g}/{event.total:g}"


def _step_end(event: StepEvent, seconds: float) -> tuple[str, str]:
    """The plain and the marked-up line for a finished or failed step."""
    if event.state == FINISHED:
        text = f"{_DONE.get(event.kind, event.kind)} image {event.subject} ({seconds:.1f}s)"
        return text, f"[dim]{text}[/dim]"
    if event.kind == "pull":
        text = f"could not pull image {event.subject}: {event.detail}"
        return text, f"[dim]{text}[/dim]"
    text = f"building image {event.subject} failed: {event.detail}"
    return text, f"[red]{text}[/red]"


class _StepHandler(logging.Handler):
    """Hands the progress logger's events to a display."""

    def __init__(self, display: ProgressDisplay) -> None:
        super().__init__(logging.INFO)
        self._display = display

    def emit(self, record: logging.LogRecord) -> None:
        event = step_of(record)
        if event is not None:
            try:
                self._display.step(event)
            except Exception:  # noqa: BLE001 - progress must never break the work
                self.handleError(record)
