"""Sessions: a test session per distribution, lint, typecheck, versions, build, benchmarks.

Each test session installs only the distribution under test and core (never the
others), so a plugin that secretly depends on another one fails here first.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox
import tomllib

nox.options.default_venv_backend = "uv"
nox.options.sessions = [
    "lint",
    "typecheck",
    "versions",
    "tests-core",
    "tests-docker",
    "tests-modal",
    "tests-gcp",
    "install",
]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
CORE = "./cooperbench-core[testing]"
DISTRIBUTIONS = ["cooperbench-core", "cooperbench-docker", "cooperbench-modal", "cooperbench-gcp"]
#: The modal SDK version the modal tests verify (cooperbench-modal allows the 1.6 series).
MODAL_SDK = "modal==1.6.4"
PYTEST = ["pytest", "-p", "no:cacheprovider"]
PYTHON_PATHS = [
    "noxfile.py",
    "cooperbench-core",
    "cooperbench-docker",
    "cooperbench-modal",
    "cooperbench-gcp",
    "tests",
    "examples",
    "benchmarks",
]


@nox.session(name="tests-core")
def tests_core(session: nox.Session) -> None:
    """Core and the local backend; builds throwaway plugin environments with uv."""
    # report: matplotlib, for the `cooperbench report` tests; trustme: certificates for the
    # TLS tests.
    session.install(CORE, "./cooperbench-core[report]", "uv", "trustme")
    session.run(*PYTEST, "tests/core", *session.posargs)


@nox.session(name="tests-docker")
def tests_docker(session: nox.Session) -> None:
    """Only core and the docker plugin, as a Docker-only CI pipeline installs them."""
    session.install(CORE, "./cooperbench-docker")
    session.run(*PYTEST, "tests/docker", *session.posargs)


@nox.session(name="tests-modal")
def tests_modal(session: nox.Session) -> None:
    """Only core and the modal plugin, on the pinned SDK, against the local Modal stand-in.

    The stand-in (tests/modal/standin) runs sandboxes as containers of the local Docker
    engine, through the Docker SDK, and serves tunnels with certificates made by trustme.
    """
    session.install(CORE, "./cooperbench-modal", MODAL_SDK, "docker", "trustme")
    session.run(*PYTEST, "tests/modal", *session.posargs)


@nox.session(name="tests-gcp")
def tests_gcp(session: nox.Session) -> None:
    """Only core and the gcp plugin, against local stand-ins of Cloud Batch and Storage.

    The stand-ins (tests/gcp/standin) serve the real clients on 127.0.0.1 and run Batch
    tasks as containers of the local Docker engine, through the docker CLI; they need
    nothing beyond what cooperbench-gcp installs (grpcio comes with google-cloud-batch).
    """
    session.install(CORE, "./cooperbench-gcp")
    session.run(*PYTEST, "tests/gcp", *session.posargs)


@nox.session
def install(session: nox.Session) -> None:
    """The README's install examples in fresh environments: from the checkout and from wheels."""
    session.install("pytest")
    session.run(*PYTEST, "tests/install", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over every distribution, the tests and the tooling."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    # Code only: snippets in the Markdown docs are illustrations, not modules.
    session.run("ruff", "format", "--check", *PYTHON_PATHS)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over core and the plugins."""
    session.install(
        "mypy",
        CORE,
        "./cooperbench-core[report]",
        "./cooperbench-docker",
        "./cooperbench-modal",
        MODAL_SDK,
        "./cooperbench-gcp",
    )
    session.run("mypy", "--config-file", "pyproject.toml", *[f"{d}/src" for d in DISTRIBUTIONS])


@nox.session(python=False)
def versions(session: nox.Session) -> None:
    """Every distribution carries the one project version and pins its siblings to it."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = root["version"]
    problems = []
    for name in DISTRIBUTIONS:
        project = tomllib.loads((ROOT / name / "pyproject.toml").read_text())["project"]
        if project["version"] != expected:
            problems.append(f"{name} is {project['version']}, the project is {expected}")
    pins = list(root["dependencies"])
    for extra in root["optional-dependencies"].values():
        pins.extend(extra)
    for name in DISTRIBUTIONS:
        pins.extend(
            tomllib.loads((ROOT / name / "pyproject.toml").read_text())["project"]["dependencies"]
        )
    for pin in pins:
        match = re.fullmatch(r"(cooperbench-[a-z]+)==(.+)", pin)
        if match and match.group(2) != expected:
            problems.append(f"{pin} does not pin {expected}")
    if problems:
        session.error("; ".join(problems))
    session.log(f"all distributions at {expected}")


@nox.session
def build(session: nox.Session) -> None:
    """Build wheels and sdists of all five distributions into dist/."""
    session.install("build")
    for folder in [".", *DISTRIBUTIONS]:
        session.run("python", "-m", "build", "--outdir", "dist", folder)


@nox.session(name="bench-messaging")
def bench_messaging(session: nox.Session) -> None:
    """Message round-trip latency: cooperbench's client vs raw redis-py, side by side."""
    session.install("./cooperbench-core")
    session.run("python", "benchmarks/bench_messaging.py", *session.posargs)


@nox.session(name="bench-docker")
def bench_docker(session: nox.Session) -> None:
    """Docker evaluation per phase vs plain `docker run` of the task runner, side by side."""
    session.install("./cooperbench-core", "./cooperbench-docker")
    session.run("python", "benchmarks/bench_docker.py", *session.posargs)
