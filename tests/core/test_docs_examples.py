"""Every shell and Python example in README.md and docs/*.md runs, or says why it cannot.

The convention (which comment marks what, and who runs it) is in tests/docs_blocks.py.
This module checks that every example follows it and runs the unmarked ones (and the
``venv`` ones) page by page, in a fresh copy of the checkout, as a reader would type
them. The ``install`` examples run in tests/install and the ``docker`` ones in the
tests-docker session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from docs_blocks import (
    MARKERS,
    PAGES,
    ROOT,
    RUNNABLE,
    Block,
    blocks,
    environment,
    fresh_checkout,
    run_block,
)

#: Pages whose examples are not marked yet, with why; each must still have an unmarked one.
PENDING_MARKERS: dict[str, str] = {}
RUNNERS = {
    "install": ROOT / "tests" / "install" / "test_install.py",
    "docker": ROOT / "tests" / "docker" / "test_docker_docs_examples.py",
}


def checked_pages() -> list[Path]:
    return [p for p in PAGES if str(p.relative_to(ROOT)) not in PENDING_MARKERS]


def run_here(block: Block) -> bool:
    return block.lang in RUNNABLE and block.marker in (None, "venv")


def test_every_example_is_run_or_marked_with_a_reason() -> None:
    problems = []
    for page in checked_pages():
        for block in blocks(page):
            if block.lang not in RUNNABLE:
                continue
            if block.marker is not None and block.marker not in MARKERS:
                problems.append(f"{block.where}: unknown marker {block.marker!r} ({MARKERS})")
            elif block.marker == "skip" and len(block.argument.split()) < 3:
                problems.append(f"{block.where}: a skipped example needs its reason")
            elif block.marker == "venv" and not (ROOT / block.argument).is_dir():
                problems.append(f"{block.where}: no folder {block.argument!r} to run it in")
            elif block.marker == "install" and page.name != "README.md":
                problems.append(f"{block.where}: install examples belong in the README")
    assert not problems, "\n".join(problems)
    for marker, runner in RUNNERS.items():
        assert runner.is_file(), f"{runner} runs the {marker!r} examples"


def test_pages_pending_markers_still_need_them() -> None:
    for name in PENDING_MARKERS:
        page = ROOT / name
        if not page.exists():
            continue
        unmarked = [b for b in blocks(page) if run_here(b)]
        assert unmarked, f"{name} has no unmarked example left: remove it from PENDING_MARKERS"


def test_the_convention_finds_blocks_and_markers() -> None:
    readme = blocks(ROOT / "README.md")
    assert {b.marker for b in readme} >= {None, "install", "skip"}
    assert all(b.text.endswith("\n") and not b.text.startswith(" ") for b in readme)


def venv_with_core(folder: Path, checkout: Path) -> dict[str, str]:
    """A fresh virtual environment (with pip) holding cooperbench-core of ``checkout``."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, str(checkout / "cooperbench-core")], check=True)
    path = f"{folder / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return environment(PATH=path, VIRTUAL_ENV=str(folder))


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [p for p in checked_pages() if any(run_here(b) for b in blocks(p))],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_examples_of_the_page_run(page: Path, tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path / "cooperbench")
    env = environment()
    venv_env: dict[str, str] | None = None
    for block in filter(run_here, blocks(page)):
        if block.marker == "venv":
            venv_env = venv_env or venv_with_core(tmp_path / "venv", checkout)
            python = str(tmp_path / "venv" / "bin" / "python")
            run_block(block, checkout / block.argument, venv_env, python)
        else:
            run_block(block, checkout, env)
