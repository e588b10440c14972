"""Patch text handling: split per file, drop agents' edits to test files.

Agents must not change the hidden tests' outcome by editing tests, so every file that
by its language's conventions is a test file is removed from their patches before
scoring.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_GIT_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.MULTILINE)
_PLAIN_OLD = re.compile(r"^--- (?:a/)?(\S+)")
_PLAIN_NEW = re.compile(r"^\+\+\+ (?:b/)?(\S+)")

_TEST_DIRS = {"test", "tests", "testing", "__tests__", "spec", "specs"}
_TEST_FILE_PATTERNS = (
    re.compile(r"^test_.*\.py$"),  # pytest
    re.compile(r".*_test\.py$"),
    re.compile(r"^conftest\.py$"),
    re.compile(r".*_test\.go$"),  # go test
    re.compile(r".*\.(test|spec)\.[cm]?[jt]sx?$"),  # jest / vitest / mocha
)


def is_test_path(path: str) -> bool:
    """True when ``path`` is a test file for Python, Go, JS/TS or Rust conventions.

    Rust integration tests live under ``tests/``; Python, JS and others use test
    directories too, so any path with a test directory component counts.
    """
    parts = path.strip("/").split("/")
    if any(part in _TEST_DIRS for part in parts[:-1]):
        return True
    return any(pattern.match(parts[-1]) for pattern in _TEST_FILE_PATTERNS)


def split_files(patch: str) -> Iterator[tuple[str, str]]:
    """Yield ``(path, chunk)`` for each file a unified diff touches, in order.

    Handles ``git diff`` output (``diff --git`` headers) and plain ``diff -u`` output.
    Text before the first file header (a commit message, say) is dropped.
    """
    lines = patch.splitlines(keepends=True)
    starts = _file_starts(lines)
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        chunk = "".join(lines[start:end])
        yield _chunk_path(lines, start), chunk


def drop_test_files(patch: str) -> tuple[str, list[str]]:
    """The patch without test-file chunks, and the paths that were dropped."""
    kept, dropped = [], []
    for path, chunk in split_files(patch):
        if is_test_path(path):
            dropped.append(path)
        else:
            kept.append(chunk)
    text = "".join(kept)
    if text and not text.endswith("\n"):
        text += "\n"  # git apply rejects a patch whose last line has no newline
    return text, dropped


def is_empty(patch: str | None) -> bool:
    """True for a missing patch or one with no content."""
    return patch is None or not patch.strip()


def _file_starts(lines: list[str]) -> list[int]:
    if any(line.startswith("diff --git ") for line in lines):
        return [i for i, line in enumerate(lines) if line.startswith("diff --git ")]
    return [
        i
        for i, line in enumerate(lines)
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")
    ]


def _chunk_path(lines: list[str], start: int) -> str:
    header = _GIT_HEADER.match(lines[start])
    if header:
        # For deletions b/ still names the path; for renames the new path matters.
        return header.group(2)
    new = _PLAIN_NEW.match(lines[start + 1]) if start + 1 < len(lines) else None
    if new and new.group(1) != "/dev/null":
        return new.group(1)
    old = _PLAIN_OLD.match(lines[start])
    return old.group(1) if old else ""
