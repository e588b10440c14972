"""Terminal output: rich consoles, tables that stay plain in pipes, ``-v`` logging.

rich is imported only inside these functions, so ``cooperbench --help`` never loads it.
On a terminal output is coloured and tables are drawn; anywhere else (a pipe, a CI log,
``TERM=dumb``) tables are plain aligned text with no trailing blanks and no colour, one
row per line, never wrapped, so scripts can read them. ``FORCE_COLOR`` and ``NO_COLOR``
work as rich documents them.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])

#: Width plain tables are laid out in: wide enough that no cell is ever wrapped.
_PLAIN_WIDTH = 10_000


def make_console(err: bool = False) -> Console:
    """A console on stderr (``err``) or stdout, live only when that stream is a terminal."""
    from rich.console import Console

    return Console(stderr=err, highlight=False)


def is_live(console: Console) -> bool:
    """True when ``console`` may colour, redraw and draw boxes (a real terminal)."""
    return console.is_terminal and not console.is_dumb_terminal


def new_table(*headers: str, title: str | None = None) -> Table:
    """A table in the project's style: a rule under the header, no outer frame."""
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        title=title,
        title_justify="left",
        title_style="bold",
        header_style="bold",
    )
    for header in headers:
        table.add_column(header)
    return table


def echo_renderable(renderable: RenderableType, err: bool = False) -> None:
    """Print a table (or any renderable): drawn on a terminal, plain text elsewhere."""
    console = make_console(err)
    if is_live(console):
        console.print(renderable)
        return
    for line in plain_lines(renderable):
        click.echo(line, err=err)


def plain_lines(renderable: RenderableType) -> list[str]:
    """``renderable`` as uncoloured lines with no trailing blanks (tables lose their rules)."""
    from rich.console import Console
    from rich.table import Table

    if isinstance(renderable, Table):
        renderable.box = None  # a rule of dashes only gets in the way of scripts
        renderable.title_style = ""
        renderable.header_style = ""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=_PLAIN_WIDTH, color_system=None, highlight=False, emoji=False
    )
    console.print(renderable, soft_wrap=False)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


def verbose_option(func: F) -> F:
    """``-v/--verbose`` (repeatable): log what the harness and backends do."""
    return click.option(
        "-v",
        "--verbose",
        count=True,
        help="Log what the harness and backends do (-vv: debug detail).",
    )(func)


def setup_logging(verbosity: int, console: Console | None = None) -> None:
    """Send log records to stderr: INFO with ``-v``, DEBUG with ``-vv``; nothing without.

    On a terminal records go through rich (above any progress bar); elsewhere they are
    plain ``time level logger: message`` lines.
    """
    if verbosity <= 0:
        return
    handler: logging.Handler
    if console is not None and is_live(console):
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)
