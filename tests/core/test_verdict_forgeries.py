"""Patches that do not implement the feature but tamper with the test run must not pass.

Each forged patch below leaves ``title_case`` (feature 1 of the textkit demo task)
unimplemented and tries one way of making the hidden tests' run look green: (a)
rewriting the report, (b) shadowing the test runner, (c) an import-time hook, (d) a
plugin named from a configuration file, (e) a test file smuggled past the test-file
filter with an unusual diff header. tests/docker/test_docker_verdict_forgeries.py runs
the same patches on Docker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cooperbench import run_patch_test
from cooperbench.plugin_manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
HIDDEN = (
    "test_title_case_basic",
    "test_title_case_keeps_small_words_lowercase",
    "test_title_case_edges_are_capitalised",
    "test_title_case_custom_small_words_and_empty",
)

# Writes a passing JUnit report wherever the environment says pytest writes one, prints
# pytest's summary line and exits 0, after pytest is done.
_FORGE_REPORT = f"""import atexit, os, re
def _forge():
    found = re.search(r"--junitxml=(\\S+)", os.environ.get("PYTEST_ADDOPTS", ""))
    cases = "".join(
        '<testcase classname="tests.test_feature1" name="%s" time="0.001"/>' % n
        for n in {HIDDEN!r}
    )
    if found:
        with open(found.group(1), "w") as report:
            report.write("<testsuite>" + cases + "</testsuite>")
    print("4 passed in 0.01s", flush=True)
    os._exit(0)
atexit.register(_forge)
"""
# Lets the hidden tests import a do-nothing title_case, then turns every test outcome
# into a pass, from inside pytest.
_FORGE_HOOK = """import pytest
import textkit.core
textkit.core.title_case = lambda *args, **kwargs: None
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""


def _new_file(header_path: str, body: str, plain_path: str | None = None) -> str:
    lines = body.splitlines()
    added = "".join(f"+{line}\n" for line in lines)
    new = plain_path or header_path
    return (
        f"diff --git a/{header_path} b/{header_path}\nnew file mode 100644\n"
        f"--- /dev/null\n+++ b/{new}\n@@ -0,0 +1,{len(lines)} @@\n{added}"
    )


def _quoted_new_file(escaped: str, body: str) -> str:
    lines = body.splitlines()
    added = "".join(f"+{line}\n" for line in lines)
    return (
        f'diff --git "a/{escaped}" "b/{escaped}"\nnew file mode 100644\n'
        f'--- /dev/null\n+++ "b/{escaped}"\n@@ -0,0 +1,{len(lines)} @@\n{added}'
    )


def _plain_new_file(path: str, body: str) -> str:
    lines = body.splitlines()
    added = "".join(f"+{line}\n" for line in lines)
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{added}"


_HARMLESS = _new_file("textkit/extra.py", "VALUE = 1\n")

FORGERIES = {
    # The package's __init__ imports it (see forged_patch).
    "a-report-rewrite": _new_file("textkit/forge.py", _FORGE_REPORT),
    "b-runner-shadow": _new_file("pytest.py", _FORGE_REPORT),
    "c-import-hook": _new_file("sitecustomize.py", _FORGE_REPORT),
    "d-config-plugin": _new_file("pytest.ini", "[pytest]\naddopts = -p textkit_forge\n")
    + _new_file("textkit_forge.py", _FORGE_HOOK),
    "e-quoted-header": _quoted_new_file("t\\145sts/conftest.py", _FORGE_HOOK),
    "e-plain-after-git": _HARMLESS + _plain_new_file("tests/conftest.py", _FORGE_HOOK),
}


def forged_patch(name: str, repo: Path) -> str:
    """The forged patch ``name``, completed against the demo repository at ``repo``."""
    patch = FORGERIES[name]
    if name == "a-report-rewrite":
        # Append an import of the forging module to the package's __init__.
        init = (repo / "textkit" / "__init__.py").read_text().splitlines()
        context = "".join(f" {line}\n" for line in init)
        patch += (
            "diff --git a/textkit/__init__.py b/textkit/__init__.py\n"
            "--- a/textkit/__init__.py\n+++ b/textkit/__init__.py\n"
            f"@@ -1,{len(init)} +1,{len(init) + 1} @@\n{context}+from textkit import forge\n"
        )
    return patch


@pytest.fixture(scope="module")
def plugins() -> PluginManager:
    return PluginManager.discover(disabled=())


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_patch_does_not_pass_on_local(name: str, plugins: PluginManager) -> None:
    repo = DEMO_DATASET / "demo_textkit_task" / "task0" / "repo"
    result = run_patch_test(
        "demo_textkit_task",
        0,
        1,
        forged_patch(name, repo),
        backend="local",
        dataset_dir=DEMO_DATASET,
        plugins=plugins,
    )
    # The test-file filter may already drop the smuggled file (then the patch is empty).
    assert result["apply_status"] in ("applied", "skipped"), result
    assert result["error"] is None, result
    assert result["passed"] is False, result["test_output"][-2000:]
