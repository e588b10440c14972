"""The shell and Python examples of README.md and docs/*.md, and how the tests run them.

Every fenced block in ``bash``, ``sh``, ``shell``, ``console`` or ``python`` runs in CI, in a
fresh copy of the checkout, in the order of its page, so a page reads as a session a
user could type: a later block may use what an earlier one made (a run's logs). What
runs a block is said by an HTML comment on the line before its fence (invisible on the
rendered page; the text around the block says the same in words):

``<!-- docs-test: skip REASON -->``
    not run, for REASON (it needs a cloud account, it is the test command itself).
``<!-- docs-test: install -->``
    an install from the checkout: run by tests/install in fresh virtual environments.
``<!-- docs-test: docker -->``
    needs a Docker engine: run by the tests-docker session, with the demo task images
    present.
``<!-- docs-test: venv DIR -->``
    run in DIR of the copy, in a fresh virtual environment holding cooperbench-core
    (for examples that install something).

Without a comment a block is run by tests/core with cooperbench-core installed and the
working directory at the root of the copy. Blocks in other languages (``text``,
``json``, ``toml``) are shown, not run. In a ``console`` block the lines starting with
``$ `` are the commands; each other line is output, and the first word of each must
start a line of the real output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The pages whose examples run.
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SHELL = ("bash", "sh", "shell")
PYTHON = ("python", "py")
RUNNABLE = (*SHELL, "console", *PYTHON)
MARKERS = ("skip", "install", "docker", "venv")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<kind>\S+)\s*(?P<argument>.*?)\s*-->\s*$")
#: Variables of the test's own environment that would change what an example does.
_UNSET = ("COOPERBENCH_DATASET", "COOPERBENCH_LOG_DIR", "COOPERBENCH_IMAGE_TEMPLATE")
BLOCK_SECONDS = 900


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, text and marker."""

    page: Path
    line: int
    lang: str
    text: str
    marker: str | None = None
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, with the marker on the line before each."""
    lines = page.read_text().splitlines()
    found = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and lines[end].strip() != opening["fence"]:
            end += 1
        previous = next((text for text in reversed(lines[:start]) if text.strip()), "")
        marker = _MARKER.match(previous)
        found.append(
            Block(
                page,
                start + 1,
                opening["lang"].lower(),
                textwrap.dedent("\n".join(lines[start + 1 : end])) + "\n",
                marker["kind"] if marker else None,
                marker["argument"] if marker else "",
            )
        )
        index = end + 1
    return found


def runnable(page: Path, marker: str | None) -> list[Block]:
    """The shell and Python blocks of ``page`` that carry ``marker`` (None: no marker)."""
    return [b for b in blocks(page) if b.lang in RUNNABLE and b.marker == marker]


def fresh_checkout(target: Path) -> Path:
    """The repository's files as a clone has them (work not yet committed included)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def environment(**extra: str) -> dict[str, str]:
    """The test's environment without the variables that would change an example."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env.update(extra)
    return env


def commands(block: Block) -> tuple[str, list[str]]:
    """A console block's commands as one script, and its expected output lines."""
    script: list[str] = []
    expected: list[str] = []
    continued = False
    for line in block.text.splitlines():
        if continued or line.startswith("$ "):
            script.append(line if continued else line[2:])
            continued = line.endswith("\\")
        elif line.strip():
            expected.append(line)
    return "\n".join(script) + "\n", expected


def run_block(
    block: Block, cwd: Path, env: dict[str, str], python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """Run one block; raise AssertionError naming the block when it fails."""
    if block.lang in PYTHON:
        script = cwd / f".docs-example-{block.line}.py"
        script.write_text(block.text)
        argv = [python, str(script)]
    elif block.lang == "console":
        argv = ["bash", "-euo", "pipefail", "-c", commands(block)[0]]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", block.text]
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_SECONDS
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"{block.where} exited {done.returncode}:\n{block.text}\n--- output ---\n{output[-4000:]}"
    )
    if block.lang == "console":
        starts = {line.split()[0] for line in done.stdout.splitlines() if line.split()}
        for line in commands(block)[1]:
            assert line.split()[0] in starts, (
                f"{block.where}: no output line starts like {line!r}:\n{done.stdout}"
            )
    return done
