"""``cooperbench report``: one self-contained HTML page about a run, from its files.

:func:`write_report` reads what ``run`` and ``eval`` wrote (result.json, eval.json,
conversation.json, config.json) and writes a page that opens offline: its style,
script and charts (matplotlib SVG, the ``report`` extra) are inline.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from cooperbench.atomic import write_text_atomic
from cooperbench.logs import resolve_log_dir

#: The page's file name in the run folder unless another output is asked for.
REPORT_FILE = "report.html"


def write_report(
    run_name: str,
    log_dir: str | Path | None = None,
    output: str | Path | None = None,
) -> Path:
    """Write the report of run ``run_name`` and return its path.

    ``log_dir`` defaults like ``eval``'s (``$COOPERBENCH_LOG_DIR``, else ``./logs``);
    ``output`` to ``<log dir>/<run>/report.html``. The file is written atomically.
    The charts need matplotlib (``pip install 'cooperbench-core[report]'``); without it
    this raises ``ImportError`` (the CLI says what to install in one line).
    """
    from cooperbench.report.data import collect
    from cooperbench.report.page import render

    report = collect(resolve_log_dir(log_dir), run_name)
    target = Path(output) if output is not None else report.run_dir / REPORT_FILE
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_text_atomic(target, render(report, generated))
    return target
