"""The README's install examples, run as written in a fresh copy of the checkout.

They run as one shell session (a user typing them in one terminal), with only a plain
Python and git: no virtual environment active, a home folder of their own. Then each
environment they made is checked: installed from the checkout, the meta-distribution
with its ``docker`` extra; from wheels, the same by name; and a Docker-only pipeline's
environment with exactly ``cooperbench-core`` and ``cooperbench-docker``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from docs_blocks import ROOT, environment, fresh_checkout, runnable

README = ROOT / "README.md"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PROJECT["project"]["version"]
#: The project's distributions: the meta-distribution and the workspace's members.
DISTRIBUTIONS = ["cooperbench", *PROJECT["tool"]["uv"]["workspace"]["members"]]


def installed(venv: Path) -> dict[str, str]:
    """``{distribution: version}`` of the cooperbench distributions in ``venv``."""
    script = (
        "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version "
        "for d in m.distributions() if d.metadata['Name'].startswith('cooperbench')}))"
    )
    done = subprocess.run(
        [venv / "bin" / "python", "-c", script], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def backends(venv: Path) -> set[str]:
    done = subprocess.run(
        [venv / "bin" / "cooperbench", "backends", "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return {row["name"] for row in json.loads(done.stdout)}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Run the README's install examples; return the checkout and the home folder."""
    blocks = runnable(README, "install")
    assert len(blocks) >= 3, "the README's install examples are marked <!-- docs-test: install -->"
    base = tmp_path_factory.mktemp("install")
    checkout = fresh_checkout(base / "cooperbench")
    home = base / "home"
    tools = base / "bin"
    home.mkdir()
    tools.mkdir()
    # A plain Python: the base interpreter of the one running the tests, no venv active.
    python = getattr(sys, "_base_executable", sys.executable)
    for name in ("python3", "python"):
        (tools / name).write_text(f'#!/bin/sh\nexec "{python}" "$@"\n')
        (tools / name).chmod(0o755)
    venv = os.environ.get("VIRTUAL_ENV")
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not venv or not p.startswith(venv)]
    env = {k: v for k, v in environment().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # The downloads pip caches are shared with the user's, so the test stays quick.
    env["PIP_CACHE_DIR"] = str(Path.home() / ".cache" / "pip")
    env.update(HOME=str(home), PATH=os.pathsep.join([str(tools), *path]))
    script = "\n".join(block.text for block in blocks)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, f"{script}\n--- output ---\n{(done.stdout + done.stderr)[-6000:]}"
    return checkout, home


def test_install_from_the_checkout_with_the_docker_extra(session: tuple[Path, Path]) -> None:
    checkout, _ = session
    venv = checkout / ".venv"
    assert installed(venv) == dict.fromkeys(
        ["cooperbench", "cooperbench-core", "cooperbench-docker"], VERSION
    )
    assert backends(venv) == {"local", "docker"}


def test_wheels_of_every_distribution_are_built(session: tuple[Path, Path]) -> None:
    checkout, _ = session
    wheels = {path.name for path in (checkout / "dist").glob("*.whl")}
    for name in DISTRIBUTIONS:
        assert f"{name.replace('-', '_')}-{VERSION}-py3-none-any.whl" in wheels, wheels


def test_a_fresh_environment_installs_cooperbench_docker_from_the_wheels(
    session: tuple[Path, Path],
) -> None:
    _, home = session
    venv = home / "cooperbench-env"
    # The project's version, not the releases the package index holds under that name.
    assert installed(venv) == dict.fromkeys(
        ["cooperbench", "cooperbench-core", "cooperbench-docker"], VERSION
    )
    assert backends(venv) == {"local", "docker"}


def test_a_docker_only_pipeline_gets_core_and_docker_alone(session: tuple[Path, Path]) -> None:
    _, home = session
    venv = home / "ci-env"
    assert installed(venv) == dict.fromkeys(["cooperbench-core", "cooperbench-docker"], VERSION)
    assert backends(venv) == {"local", "docker"}
    # No cloud SDK comes with it.
    done = subprocess.run([venv / "bin" / "python", "-c", "import modal"], capture_output=True)
    assert done.returncode != 0
