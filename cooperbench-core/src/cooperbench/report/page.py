"""The report page: one HTML document with its style, script and charts inline.

Nothing in the page points outside it: no stylesheet, font, script or image is fetched,
so it opens offline and from an archive. The only script sorts the pairs table (click a
header, or open the page with ``#sort=<column>``, ``#sort=-<column>`` for descending).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from html import escape
from typing import Any

from cooperbench.evaluation.types import ERROR, FAILED, PASSED, SKIPPED
from cooperbench.report.charts import (
    STATUS_COLOURS,
    feature_matrix,
    merge_against_verdict,
    pass_rate_by_repo,
    phase_times,
)
from cooperbench.report.data import PHASES, PairReport, RunReport

_STYLE = """
:root { --passed: #2e9e44; --failed: #d1383d; --error: #e69b00; --skipped: #8a929c;
        --line: #d8dde3; --soft: #f4f6f8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d232a; background: #fff; }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #5b6570; margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px;
        min-width: 120px; }
.card .value { font-size: 26px; font-weight: 600; display: block; }
.card .label { color: #5b6570; }
.passed { color: var(--passed); } .failed { color: var(--failed); }
.error { color: var(--error); } .skipped { color: var(--skipped); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
#pairs th { cursor: pointer; user-select: none; white-space: nowrap; }
#pairs th[aria-sort="ascending"]::after { content: " \\25B2"; }
#pairs th[aria-sort="descending"]::after { content: " \\25BC"; }
.badge { border-radius: 4px; padding: 0 6px; color: #fff; font-weight: 600; }
.badge.passed { background: var(--passed); } .badge.failed { background: var(--failed); }
.badge.error { background: var(--error); } .badge.skipped { background: var(--skipped); }
svg.chart { max-width: 100%; height: auto; display: block; }
.matrices { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.matrices figure { margin: 0; }
.scroll { overflow-x: auto; }
#pairs td.reason { min-width: 220px; max-width: 420px; overflow-wrap: anywhere; }
#pairs td.links, #pairs td.key { white-space: nowrap; }
.legend span { margin-right: 12px; }
pre { background: var(--soft); padding: 8px; overflow: auto; max-height: 480px;
      font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; }
.pair { border: 1px solid var(--line); border-radius: 8px; padding: 4px 14px 10px;
        margin: 14px 0; }
.pair:target { outline: 2px solid #4c78a8; }
details > summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.msg { border-left: 3px solid var(--line); padding: 2px 8px; margin: 4px 0; }
.msg .who { color: #5b6570; font-size: 12px; }
.diff-add { color: #1a7f37; } .diff-del { color: #cf222e; } .diff-hunk { color: #6639ba; }
.note { color: #5b6570; font-style: italic; }
"""

_SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("pairs");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var body = table.tBodies[0];
  function key(row, index) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent.trim(); }
    var number = Number(raw);
    return raw !== "" && !isNaN(number) ? number : raw.toLowerCase();
  }
  function sortBy(name, descending) {
    var index = heads.findIndex(function (h) { return h.dataset.key === name; });
    if (index < 0) { return false; }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, index), y = key(b, index);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    heads[index].setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.setAttribute("data-sorted", (descending ? "-" : "") + name);
    return true;
  }
  heads.forEach(function (head) {
    head.addEventListener("click", function () {
      var descending = head.getAttribute("aria-sort") === "ascending";
      sortBy(head.dataset.key, descending);
    });
  });
  var wanted = /(?:^#|&)sort=(-?)([a-z_]+)/.exec(window.location.hash);
  if (wanted) { sortBy(wanted[2], wanted[1] === "-"); }
  document.body.setAttribute("data-ready", "true");
})();
"""

_PAIR_COLUMNS = (
    ("pair", "pair", False),
    ("setting", "setting", False),
    ("repo", "repository", False),
    ("verdict", "verdict", False),
    ("merge", "merge", False),
    ("features", "features passed", False),
    ("tests_passed", "tests passed", True),
    ("tests_failed", "tests failed", True),
    ("seconds", "eval seconds", True),
    ("reason", "first failing test or error", False),
    ("links", "details", False),
)


def render(report: RunReport, generated_at: str) -> str:
    """The complete page for ``report``."""
    summary = report.summary
    sections = [
        _overview(report, generated_at),
        _repositories(summary),
        _merges(report.pairs),
        _matrices(report.pairs),
        _timings(report.pairs),
        _pairs_table(report.pairs),
        _pair_details(report.pairs),
    ]
    title = f"cooperbench report: {report.run_name}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No request may leave the page, whatever a log file contains.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style></head>\n"
        f"<body>\n{''.join(sections)}</main>\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )


def _overview(report: RunReport, generated_at: str) -> str:
    summary, config = report.summary, report.config
    settings = [
        f"{label} {escape(str(config[key]))}"
        for key, label in (
            ("agent", "agent"),
            ("model", "model"),
            ("setting", "setting"),
            ("backend", "backend"),
        )
        if config.get(key)
    ]
    cards = [
        ("pairs", str(summary["total_runs"]), ""),
        ("pass-rate", f"{summary['pass_rate'] * 100:.1f}%", ""),
        ("passed", str(summary["passed"]), "passed"),
        ("failed", str(summary["failed"]), "failed"),
        ("errors", str(summary["errors"]), "error"),
        ("skipped", str(summary["skipped"]), "skipped"),
        ("conflict-rate", f"{summary['merge_conflict_rate'] * 100:.1f}%", ""),
    ]
    labels = {
        "pass-rate": "pass rate (passed / verdicts)",
        "skipped": "not evaluated",
        "conflict-rate": "merges needing union",
    }
    card_html = "".join(
        f'<div class="card"><span class="value {css}" id="total-{name}">{value}</span>'
        f'<span class="label">{labels.get(name, name)}</span></div>'
        for name, value, css in cards
    )
    return (
        f"<header><h1>Run {escape(report.run_name)}</h1>"
        f'<p class="meta">{" · ".join(settings) or "no config.json"} · '
        f"generated {escape(generated_at)} from {escape(str(report.run_dir))}</p></header>\n"
        f'<main><div class="cards">{card_html}</div>\n'
        '<p class="note">Pass rate counts pairs with a verdict (passed or failed); errors '
        "are the harness's and are retried by the next eval.</p>\n"
    )


def _repositories(summary: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(repo)}</td>{_tally_cells(tally)}</tr>"
        for repo, tally in sorted(summary["by_repo"].items())
    )
    rows += f'<tr class="overall"><th>overall</th>{_tally_cells(summary)}</tr>'
    chart = pass_rate_by_repo(summary["by_repo"]) if summary["by_repo"] else ""
    return (
        '<h2 id="repositories">Pass rate by repository</h2>'
        f"{chart}"
        '<table id="repo-table"><thead><tr><th>repository</th><th class="num">pairs</th>'
        '<th class="num">passed</th><th class="num">failed</th><th class="num">errors</th>'
        '<th class="num">not evaluated</th><th class="num">pass rate</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>\n"
    )


def _tally_cells(tally: dict[str, Any]) -> str:
    values = [
        tally["total_runs"],
        tally["passed"],
        tally["failed"],
        tally["errors"],
        tally["skipped"],
        f"{tally['pass_rate'] * 100:.1f}%",
    ]
    return "".join(f'<td class="num">{value}</td>' for value in values)


def _merges(pairs: Sequence[PairReport]) -> str:
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_VERDICTS, 0))
    for pair in pairs:
        outcomes[pair.merge][pair.status] += 1
    rows = "".join(
        f"<tr><td>{escape(merge)}</td>"
        + "".join(f'<td class="num">{counts[s]}</td>' for s in _VERDICTS)
        + f'<td class="num">{sum(counts.values())}</td></tr>'
        for merge, counts in outcomes.items()
    )
    heads = "".join(f'<th class="num">{s}</th>' for s in _VERDICTS)
    return (
        '<h2 id="merges">Merge outcome against verdict</h2>'
        '<p class="note">clean: the branches merged as they were; union: they conflicted and '
        "were merged with git's union driver; conflict: the merge failed; missing input: a "
        "patch did not apply; solo: one patch, nothing to merge.</p>"
        f"{merge_against_verdict(pairs) if pairs else ''}"
        f'<table id="merge-table"><thead><tr><th>merge</th>{heads}<th class="num">pairs</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>\n"
    )


_VERDICTS = (PASSED, FAILED, ERROR, SKIPPED)


def _matrices(pairs: Sequence[PairReport]) -> str:
    groups: dict[tuple[str, int, str], list[PairReport]] = defaultdict(list)
    for pair in pairs:
        if len(pair.features) == 2:
            groups[(pair.repo, pair.task_id, pair.setting)].append(pair)
    figures = "".join(
        f"<figure>{feature_matrix(members, f'{repo}/{task} {setting}')}</figure>"
        for (repo, task, setting), members in sorted(groups.items())
    )
    wider = [p for p in pairs if len(p.features) != 2]
    extra = (
        f'<p class="note">{len(wider)} pair(s) of more than two features are in the table '
        "below only.</p>"
        if wider
        else ""
    )
    return (
        '<h2 id="matrix">Feature-by-feature pass matrix</h2>'
        '<p class="note">One matrix per task and setting: the cell of features a and b is the '
        "pair's verdict; its marks say whether feature a and feature b passed (✓ passed, "
        "✗ failed, ? not evaluated).</p>"
        f'{_legend()}<div class="matrices">{figures or "<p>no pairs</p>"}</div>{extra}\n'
    )


def _timings(pairs: Sequence[PairReport]) -> str:
    timed = [p for p in pairs if p.timings]
    if not timed:
        return '<h2 id="timings">Time per phase</h2><p>No eval.json has timings.</p>\n'
    phases = [p for p in PHASES if any(p in t.timings for t in timed)]
    phases += sorted({k for t in timed for k in t.timings} - set(PHASES))
    rows = []
    for phase in phases:
        values = sorted(t.timings[phase] for t in timed if phase in t.timings)
        mean = sum(values) / len(values)
        median = values[len(values) // 2]
        rows.append(
            f"<tr><td>{escape(phase)}</td><td class='num'>{len(values)}</td>"
            f"<td class='num'>{mean:.2f}</td><td class='num'>{median:.2f}</td>"
            f"<td class='num'>{values[-1]:.2f}</td><td class='num'>{sum(values):.2f}</td></tr>"
        )
    return (
        '<h2 id="timings">Time per phase</h2>'
        '<p class="note">Seconds per evaluation phase (eval.json <code>timings</code>): '
        "image (find, pull or build), sandbox start, patch setup (branches and merge), tests, "
        "teardown.</p>"
        f"{phase_times(timed)}"
        '<table id="timing-table"><thead><tr><th>phase</th><th class="num">pairs</th>'
        '<th class="num">mean</th><th class="num">median</th><th class="num">max</th>'
        f'<th class="num">total</th></tr></thead><tbody>{"".join(rows)}</tbody></table>\n'
    )


def _pairs_table(pairs: Sequence[PairReport]) -> str:
    heads = "".join(
        f'<th data-key="{key}"{" class=num" if numeric else ""}>{label}</th>'
        for key, label, numeric in _PAIR_COLUMNS
    )
    rows = "".join(_pair_row(pair) for pair in pairs)
    return (
        '<h2 id="pairs-heading">Pairs</h2>'
        '<p class="note">Click a column to sort; open details for failing tests, the merged '
        "diff and the conversation.</p>"
        f'<div class="scroll"><table id="pairs"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>\n"
    )


def _pair_row(pair: PairReport) -> str:
    marks = " ".join(
        f"f{f}{'?' if passed is None else ('✓' if passed else '✗')}"
        for f, passed in pair.feature_passed
    )
    passed_count = sum(1 for _, passed in pair.feature_passed if passed)
    seconds = "" if pair.duration is None else f"{pair.duration:.2f}"
    links = [f'<a href="#{pair.anchor}">open</a>']
    if pair.failing:
        links.append(f'<a href="#{pair.anchor}-tests">tests</a>')
    if pair.diff:
        links.append(f'<a href="#{pair.anchor}-diff">diff</a>')
    if pair.conversation:
        links.append(f'<a href="#{pair.anchor}-conversation">conversation</a>')
    cells = [
        f'<td class="key" data-value="{escape(pair.key)} {pair.setting}">'
        f'<a href="#{pair.anchor}">{escape(pair.key)}</a></td>',
        f"<td>{pair.setting}</td>",
        f"<td>{escape(pair.repo)}</td>",
        f'<td data-value="{_STATUS_ORDER[pair.status]}{pair.status}">{_badge(pair.status)}</td>',
        f"<td>{escape(pair.merge)}</td>",
        f'<td data-value="{passed_count}">{marks}</td>',
        f'<td class="num">{pair.tests_passed}</td>',
        f'<td class="num">{pair.tests_failed}</td>',
        f'<td class="num" data-value="{seconds or -1}">{seconds}</td>',
        f'<td class="reason">{escape(pair.reason)}</td>',
        f'<td class="links">{" ".join(links)}</td>',
    ]
    return f'<tr id="row-{pair.index}" data-status="{pair.status}">{"".join(cells)}</tr>'


_STATUS_ORDER = {PASSED: 3, FAILED: 1, ERROR: 2, SKIPPED: 4}


def _pair_details(pairs: Sequence[PairReport]) -> str:
    return '<h2 id="details">Pair details</h2>' + "".join(_pair_section(p) for p in pairs)


def _pair_section(pair: PairReport) -> str:
    parts = [
        f'<section class="pair" id="{pair.anchor}">'
        f"<h3>{escape(pair.key)} ({pair.setting}) {_badge(pair.status)}</h3>"
        f'<p class="meta">merge: {escape(pair.merge)} · folder {escape(pair.folder)}'
        + (f" · {escape(pair.reason)}" if pair.reason else "")
        + "</p>"
    ]
    if pair.failing:
        tests = "".join(
            f"<h4>feature {t.feature_id}: {escape(t.name)} {_badge(t.status)}</h4>"
            f"<pre>{escape(t.error) or '(no error text)'}</pre>"
            for t in pair.failing
        )
        parts.append(
            f'<details id="{pair.anchor}-tests" open><summary>Failing tests '
            f"({len(pair.failing)})</summary>{tests}</details>"
        )
    if pair.diff:
        note = " (truncated; the whole diff is in eval.json)" if pair.diff_truncated else ""
        parts.append(
            f'<details id="{pair.anchor}-diff"><summary>Merged diff{note}</summary>'
            f"<pre>{_diff_html(pair.diff)}</pre></details>"
        )
    if pair.conversation or pair.conversation_note:
        messages = "".join(_message(m) for m in pair.conversation)
        note = f'<p class="note">{escape(pair.conversation_note)}</p>'
        parts.append(
            f'<details id="{pair.anchor}-conversation"><summary>Conversation '
            f"({len(pair.conversation)} messages)</summary>{note if pair.conversation_note else ''}"
            f"{messages}</details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _message(message: dict[str, Any]) -> str:
    who = f"{message.get('from', '?')} → {message.get('to', '?')}"
    when = str(message.get("timestamp", ""))
    text = str(message.get("message", message.get("content", "")))
    return (
        f'<div class="msg"><div class="who">{escape(who)} · {escape(when)}</div>'
        f"<div>{escape(text)}</div></div>"
    )


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        text = escape(line)
        if line.startswith("+") and not line.startswith("+++"):
            lines.append(f'<span class="diff-add">{text}</span>')
        elif line.startswith("-") and not line.startswith("---"):
            lines.append(f'<span class="diff-del">{text}</span>')
        elif line.startswith("@@"):
            lines.append(f'<span class="diff-hunk">{text}</span>')
        else:
            lines.append(text)
    return "\n".join(lines)


def _badge(status: str) -> str:
    return f'<span class="badge {status}">{status}</span>'


def _legend() -> str:
    return (
        '<p class="legend">'
        + "".join(f'<span style="color:{STATUS_COLOURS[s]}">■ {s}</span>' for s in _VERDICTS)
        + "</p>"
    )
