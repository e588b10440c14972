"""Patch text handling: split per file, drop agents' edits to test files.

Agents must not change the hidden tests' outcome by editing tests, so every file that
by its language's conventions is a test file is removed from their patches before
scoring.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_NAME_LINES = ("rename from ", "rename to ", "copy from ", "copy to ", "--- ", "+++ ")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}

TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs"})
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
    if any(part in TEST_DIRS for part in parts[:-1]):
        return True
    return any(pattern.match(parts[-1]) for pattern in _TEST_FILE_PATTERNS)


def split_files(patch: str) -> Iterator[tuple[str, str]]:
    """Yield ``(path, chunk)`` for each file section of a patch, as ``git apply`` splits it.

    A section starts at a ``diff --git`` line, or at a ``---``/``+++`` pair outside a
    hunk that does not belong to the current git section's header (git applies such
    plain sections too). Hunks are skipped by their line counts, so hunk content that
    looks like a header is not one. The path is the first test path among every name
    the section gives (header, ``rename``/``copy`` lines, ``---``/``+++``; quoted or
    not), else its new name. Text before the first section is dropped.
    """
    for names, chunk in _sections(patch.splitlines(keepends=True)):
        tests = [name for name in names if is_test_path(name)]
        yield (tests or names or [""])[0 if tests else -1], chunk


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


def _sections(lines: list[str]) -> Iterator[tuple[list[str], str]]:
    start: int | None = None
    names: list[str] = []
    git_header_open = False  # a git section whose ---/+++ pair has not come yet
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        plain = line.startswith("--- ") and following.startswith("+++ ")
        if line.startswith("diff --git ") or (plain and not git_header_open):
            if start is not None:
                yield names, "".join(lines[start:index])
            start, names = index, []
            git_header_open = line.startswith("diff --git ")
            if git_header_open:
                names = _header_names(line)
                index += 1
                continue
        if start is not None and line.startswith(_NAME_LINES):
            name = _name_of(line.split(" ", 2)[-1] if line[0] in "rc" else line[4:])
            if name:
                names.append(name)
            if line.startswith("+++ "):
                git_header_open = False
        elif start is not None and (hunk := _HUNK.match(line)):
            git_header_open = False
            index = _skip_hunk(lines, index + 1, hunk)
            continue
        index += 1
    if start is not None:
        yield names, "".join(lines[start:])


def _skip_hunk(lines: list[str], index: int, hunk: re.Match[str]) -> int:
    old = int(hunk.group(1) or 1)
    new = int(hunk.group(2) or 1)
    while index < len(lines) and (old > 0 or new > 0):
        tag = lines[index][:1]
        if tag in (" ", "\n", ""):
            old, new = old - 1, new - 1
        elif tag == "-":
            old -= 1
        elif tag == "+":
            new -= 1
        elif tag != "\\":  # "\ No newline at end of file"
            break
        index += 1
    while index < len(lines) and lines[index].startswith("\\"):
        index += 1
    return index


def _header_names(line: str) -> list[str]:
    rest = line[len("diff --git ") :].rstrip("\n")
    if rest.startswith('"'):
        first, remainder = _unquote_prefix(rest)
        second = _name_of(remainder.strip())
        return [n for n in (_strip_prefix(first), second) if n]
    # Unquoted: "a/X b/X"; names may hold spaces, so split where both halves agree.
    half = (len(rest) - 1) // 2
    old, new = rest[:half], rest[half + 1 :]
    if rest[half : half + 1] == " " and _strip_prefix(old) == _strip_prefix(new):
        return [_strip_prefix(new)]
    old, _, new = rest.partition(" ")
    return [n for n in (_name_of(old), _name_of(new)) if n]


def _name_of(text: str) -> str:
    text = text.rstrip("\n")
    if text.startswith('"'):
        name, _ = _unquote_prefix(text)
    else:
        name = text.split("\t")[0].rstrip()
    return "" if name == "/dev/null" else _strip_prefix(name)


def _strip_prefix(name: str) -> str:
    # git's default prefixes; rename/copy lines carry none, which this leaves alone.
    return name[2:] if name[:2] in ("a/", "b/") else name


def _unquote_prefix(text: str) -> tuple[str, str]:
    """The C-quoted name at the start of ``text`` (as git writes it), and what follows."""
    out = bytearray()
    index = 1
    while index < len(text) and text[index] != '"':
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            code = text[index + 1]
            if code in "01234567":
                out.append(int(text[index + 1 : index + 4], 8) & 0xFF)
                index += 4
                continue
            out.append(_ESCAPES.get(code, ord(code) & 0xFF))
            index += 2
            continue
        out += char.encode("utf-8")
        index += 1
    return out.decode("utf-8", "replace"), text[index + 1 :]
