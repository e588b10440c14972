"""Agents' edits to test files are dropped, for each language's conventions."""

from __future__ import annotations

import pytest

from cooperbench.evaluation.patches import drop_test_files, is_empty, is_test_path, split_files


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_core.py",
        "pkg/tests/helpers.py",
        "test_thing.py",
        "pkg/thing_test.py",
        "conftest.py",
        "server/handler_test.go",
        "src/app.test.ts",
        "web/button.spec.jsx",
        "src/__tests__/x.js",
        "tests/integration.rs",
        "lib/util.test.mjs",
    ],
)
def test_test_paths(path: str) -> None:
    assert is_test_path(path)


@pytest.mark.parametrize(
    "path",
    ["src/core.py", "pkg/testing_utils_impl.go", "src/contest.py", "lib/latest.js", "src/lib.rs"],
)
def test_source_paths(path: str) -> None:
    assert not is_test_path(path)


GIT_PATCH = """diff --git a/src/a.py b/src/a.py
index 1..2 100644
--- a/src/a.py
+++ b/src/a.py
@@ -1 +1 @@
-x = 1
+x = 2
diff --git a/tests/test_a.py b/tests/test_a.py
--- a/tests/test_a.py
+++ b/tests/test_a.py
@@ -1 +1 @@
-assert x == 1
+assert True
diff --git a/b.go b/b.go
--- a/b.go
+++ b/b.go
@@ -1 +1 @@
-a
+b"""


def test_drop_test_files_keeps_the_rest_and_ends_with_newline() -> None:
    kept, dropped = drop_test_files(GIT_PATCH)
    assert dropped == ["tests/test_a.py"]
    assert [path for path, _ in split_files(kept)] == ["src/a.py", "b.go"]
    assert kept.endswith("+b\n")


def test_plain_unified_diffs_are_split_too() -> None:
    plain = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-1\n+2\n--- a/x_test.go\n+++ b/x_test.go\n@@ -1 +1 @@\n-1\n+2\n"
    kept, dropped = drop_test_files(plain)
    assert dropped == ["x_test.go"] and "x.py" in kept


def test_empty_patches() -> None:
    assert is_empty(None) and is_empty("") and is_empty("\n  \n")
    assert not is_empty(GIT_PATCH)
