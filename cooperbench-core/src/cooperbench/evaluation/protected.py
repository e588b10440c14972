"""The paths agents' patches may not change for the hidden tests' run, as git pathspecs.

The merged code must not bring its own tests, test configuration, test-runner shadows,
import hooks or plugins into the run of the hidden tests. Rather than trusting a parser
of patch text, the sandbox asks git itself: the diff the task runner applies is
``git diff base merged -- . <these excludes>``, so whatever form a patch took (quoted
names, renames, copies, plain ``---/+++`` sections), a change to a protected path is
simply not in it, and the file stays as it is at the base commit (or absent). The same
patterns, positive, list what was held back (``protected_paths`` in eval.json).
"""

from __future__ import annotations

import sys

from cooperbench.evaluation.patches import TEST_DIRS

#: Test files by language convention (as :func:`patches.is_test_path`), at any depth.
_TEST_FILES = (
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "*_test.go",
    *(
        f"*.{kind}.{prefix}{lang}s{jsx}"
        for kind in ("test", "spec")
        for prefix in ("", "c", "m")
        for lang in ("j", "t")
        for jsx in ("", "x")
    ),
)
#: Test configuration, build hooks and import hooks, at any depth: pytest reads its
#: options (``addopts``, ``-p plugin``) from the first four; ``*.pth`` and the
#: customize modules run code at interpreter start; setup.py runs on reinstall.
_CONFIG_FILES = (
    "pytest.ini",
    ".pytest.ini",
    "tox.ini",
    "setup.cfg",
    "pyproject.toml",
    "setup.py",
    "*.pth",
    "sitecustomize.py",
    "usercustomize.py",
    "*.pyc",
    "*.pyo",
)
#: Packages and modules that would shadow the test runner or its imports.
_RUNNER_MODULES = (
    "pytest",
    "_pytest",
    "py",
    "pluggy",
    "iniconfig",
    "packaging",
    "exceptiongroup",
    "tomli",
    "colorama",
    "sitecustomize",
    "usercustomize",
    "cooperbench_report",
)
#: Where a module shadows an installed one: the repository root (the runner's working
#: directory and ``PYTHONPATH``) and ``src/`` (editable installs of src layouts).
_IMPORT_ROOTS = ("", "src/")


def shadow_names() -> list[str]:
    """Top-level module names the merged code may not define: the runner's and stdlib's."""
    return sorted(set(_RUNNER_MODULES) | set(sys.stdlib_module_names) - {"__future__"})


def protected_patterns() -> list[str]:
    """Glob patterns (git ``:(glob)`` syntax) of every protected path."""
    patterns = [f"**/{name}/**" for name in sorted(TEST_DIRS)]
    patterns += [f"**/{name}" for name in (*_TEST_FILES, *_CONFIG_FILES)]
    patterns.append("**/__pycache__/**")
    for root in _IMPORT_ROOTS:
        for name in shadow_names():
            # A directory shadows only as a regular package (with ``__init__.py``), so
            # other folders that happen to share a stdlib name (Go's ``http/``) are free.
            patterns += [f"{root}{name}.py", f"{root}{name}/__init__.py", f"{root}{name}.*so"]
    return patterns


def pathspec_file() -> str:
    """The exclude pathspecs, one a line, as prepare.sh reads them."""
    return "".join(f":(exclude,glob){pattern}\n" for pattern in protected_patterns())
