"""The report's charts, drawn by matplotlib as inline SVG (no script, no network, no files).

matplotlib is the optional ``report`` extra: it is imported by :func:`missing_matplotlib`
and inside the chart functions only. Charts use matplotlib's object API (``Figure``,
never ``pyplot``), so nothing global is touched and no GUI backend is chosen.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cooperbench.evaluation.types import ERROR, FAILED, PASSED, SKIPPED
from cooperbench.report.data import MERGE_OUTCOMES, PHASES, STATUSES, PairReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The command that installs what the report needs.
INSTALL_HINT = "pip install 'cooperbench-core[report]'"

#: One colour per verdict, the same in charts and tables.
STATUS_COLOURS = {PASSED: "#2e9e44", FAILED: "#d1383d", ERROR: "#e69b00", SKIPPED: "#b8bec6"}


def missing_matplotlib() -> str | None:
    """``None`` when matplotlib imports, else one line saying what to install."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        return (
            f"cooperbench report draws its charts with matplotlib, which cannot be imported "
            f"here ({exc}); install it with: {INSTALL_HINT}"
        )
    return None


def pass_rate_by_repo(by_repo: dict[str, dict[str, Any]]) -> str:
    """Stacked bars per repository (passed, failed, error, skipped), pass rate written on."""
    repos = sorted(by_repo)
    figure = _figure(7.5, 0.5 + 0.45 * max(len(repos), 1))
    axes = figure.add_subplot()
    left = [0.0] * len(repos)
    keys = {PASSED: "passed", FAILED: "failed", ERROR: "errors", SKIPPED: "skipped"}
    for status in STATUSES:
        values = [float(by_repo[r][keys[status]]) for r in repos]
        axes.barh(repos, values, left=left, color=STATUS_COLOURS[status], label=status)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for row, repo in enumerate(repos):
        rate = by_repo[repo]["pass_rate"] * 100
        axes.text(left[row], row, f"  {rate:.1f}%", va="center")
    axes.invert_yaxis()
    axes.set_xlabel("pairs")
    axes.set_xlim(0, max([*left, 1.0]) * 1.18)
    axes.legend(loc="lower right", ncols=4, frameon=False, bbox_to_anchor=(1.0, 1.0))
    _tidy(axes)
    return _svg(figure, "repos")


def merge_against_verdict(pairs: Sequence[PairReport]) -> str:
    """Pairs per merge outcome, stacked by verdict."""
    counts = Counter((p.merge, p.status) for p in pairs)
    outcomes = [m for m in MERGE_OUTCOMES if any(p.merge == m for p in pairs)] or ["clean"]
    figure = _figure(7.5, 0.5 + 0.45 * len(outcomes))
    axes = figure.add_subplot()
    left = [0.0] * len(outcomes)
    for status in STATUSES:
        values = [float(counts[(m, status)]) for m in outcomes]
        axes.barh(outcomes, values, left=left, color=STATUS_COLOURS[status], label=status)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.invert_yaxis()
    axes.set_xlabel("pairs")
    axes.set_xlim(0, max([*left, 1.0]) * 1.1)
    axes.legend(loc="lower right", ncols=4, frameon=False, bbox_to_anchor=(1.0, 1.0))
    _tidy(axes)
    return _svg(figure, "merge")


def feature_matrix(pairs: Sequence[PairReport], title: str) -> str:
    """One task's two-feature pairs as a matrix: the cell of features (a, b) has the pair's
    verdict as its colour and which of the two features passed as its text."""
    import numpy
    from matplotlib.colors import ListedColormap

    features = sorted({f for p in pairs for f in p.features})
    position = {f: i for i, f in enumerate(features)}
    codes = {status: i for i, status in enumerate(STATUSES)}
    size = len(features)
    grid = [[float("nan")] * size for _ in range(size)]
    figure = _figure(1.2 + 0.62 * size, 0.9 + 0.55 * size)
    axes = figure.add_subplot()
    for pair in pairs:
        first, second = (position[f] for f in pair.features)
        grid[first][second] = codes[pair.status]
        marks = "".join(
            "?" if passed is None else ("✓" if passed else "✗") for _, passed in pair.feature_passed
        )
        axes.text(
            second + 0.5, first + 0.5, marks, ha="center", va="center", color="white", fontsize=11
        )
    colours = ListedColormap([STATUS_COLOURS[s] for s in STATUSES])
    # Vector cells (pcolormesh), not a raster image: crisp at any zoom, no PNG inside.
    axes.pcolormesh(
        numpy.ma.masked_invalid(grid),
        cmap=colours,
        vmin=-0.5,
        vmax=len(STATUSES) - 0.5,
        edgecolors="white",
        linewidth=2,
    )
    axes.set_aspect("equal")
    axes.invert_yaxis()
    labels = [f"f{f}" for f in features]
    axes.set_xticks([i + 0.5 for i in range(size)], labels)
    axes.set_yticks([i + 0.5 for i in range(size)], labels)
    axes.tick_params(length=0)
    axes.set_title(title, fontsize=10)
    for spine in axes.spines.values():
        spine.set_visible(False)
    return _svg(figure, f"matrix-{title}")


def phase_times(pairs: Sequence[PairReport]) -> str:
    """Mean seconds per evaluation phase over the evaluated pairs, total written on."""
    phases = _phases(pairs)
    figure = _figure(7.5, 0.5 + 0.45 * max(len(phases), 1))
    axes = figure.add_subplot()
    means = []
    for phase in phases:
        values = [p.timings[phase] for p in pairs if phase in p.timings]
        means.append(sum(values) / len(values) if values else 0.0)
    axes.barh(phases or ["(no timings)"], means or [0.0], color="#4c78a8")
    for row, mean in enumerate(means):
        axes.text(mean, row, f"  {mean:.2f}s", va="center")
    axes.invert_yaxis()
    axes.set_xlabel("mean seconds per pair")
    axes.set_xlim(0, max([*means, 0.01]) * 1.25)
    _tidy(axes)
    return _svg(figure, "phases")


def _phases(pairs: Sequence[PairReport]) -> list[str]:
    """The phases found in the pairs' timings, pipeline order first."""
    seen = {phase for p in pairs for phase in p.timings}
    return [p for p in PHASES if p in seen] + sorted(seen - set(PHASES))


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _tidy(axes: Any) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _svg(figure: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element for inlining, with ids unique to this chart."""
    import matplotlib

    buffer = io.StringIO()
    # A salt per chart keeps the ids of clip paths distinct when several charts share a page.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"cooperbench-{name}"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, transparent=True)
    text = buffer.getvalue()
    start = text.index("<svg")
    svg = text[start:]
    # Keep the natural width, drop the height: CSS caps the width at the page's and the
    # height follows the viewBox, so a chart never overflows a narrow screen.
    svg = re.sub(r'(<svg[^>]*? width="[^"]*") height="[^"]*"', r"\1", svg, count=1)
    return svg.replace("<svg ", f'<svg class="chart" role="img" aria-label="{name}" ', 1)
