"""A third-party plugin distribution is discovered, listed and selectable with no change to core.

The example distributions under tests/plugins are installed into a fresh virtual
environment next to core, exactly as a user would install a published plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the plugin test environment (pip install uv)")
    venv = tmp_path_factory.mktemp("plugin-env") / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            f"{ROOT / 'cooperbench-core'}[testing]",
            str(PLUGINS / "cooperbench-example"),
            str(PLUGINS / "cooperbench-broken"),
        ],
        check=True,
    )
    return venv


def run(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COOPERBENCH_DISABLED_PLUGINS"}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_listed_with_distribution_and_broken_one_reported(plugin_env: Path) -> None:
    done = run(plugin_env, "cooperbench", "backends", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["example"]["distribution"] == "cooperbench-example"
    assert rows["example"]["state"] == "usable"
    assert rows["broken"]["state"] == "broken"
    assert "kubernetes" in rows["broken"]["detail"]
    assert rows["local"]["state"] == "usable"
    assert rows["example"]["hooks"] == ["backend_options", "check_backend", "create_sandbox"]


def test_its_options_are_listed_and_reach_its_sandboxes(plugin_env: Path) -> None:
    listing = run(plugin_env, "cooperbench", "backends", "--options", "example", "--json")
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout) == [
        {
            "name": "greeting",
            "type": "str",
            "default": "hello",
            "help": "Text the sandbox's README starts with.",
        }
    ]
    code = (
        "from cooperbench import get_backend\n"
        "with get_backend('example').create_sandbox('any', options={'greeting': 'hi'}) as sb:\n"
        "    print(sb.read_file('README').decode(), end='')\n"
    )
    done = run(plugin_env, "python", "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n"
    wrong = run(
        plugin_env,
        "cooperbench",
        "eval",
        "-n",
        "x",
        "--backend",
        "example",
        "--backend-option",
        "colour=red",
    )
    assert wrong.returncode == 2
    assert wrong.stderr == (
        "error: backend 'example' has no option 'colour' (its options: greeting); "
        "see 'cooperbench backends --options example'\n"
    )


def test_selectable_by_name(plugin_env: Path) -> None:
    code = (
        "from cooperbench import get_backend\n"
        "with get_backend('example').create_sandbox('any') as sb:\n"
        "    print(sb.exec('echo', 'from example').stdout_read(), end='')\n"
    )
    done = run(plugin_env, "python", "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from example\n"


def test_choosing_the_broken_plugin_names_its_distribution(plugin_env: Path) -> None:
    code = "from cooperbench import get_backend\nget_backend('broken')\n"
    done = run(plugin_env, "python", "-c", code)
    assert done.returncode != 0
    assert "cooperbench-broken" in done.stderr and "failed to load" in done.stderr


def test_plugin_passes_cores_conformance_suite(plugin_env: Path) -> None:
    suite = PLUGINS / "cooperbench-example" / "tests"
    done = run(plugin_env, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite))
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout
