"""Image builds and pulls report their progress (cooperbench.progress events) as they go."""

from __future__ import annotations

import contextlib
import io
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cooperbench.cli.progress import ProgressDisplay
from cooperbench.errors import SandboxError
from cooperbench.progress import PROGRESS_LOGGER, StepEvent, step_of
from cooperbench_docker import images

pytestmark = pytest.mark.docker

BUILD_ARGS = {"BASE_IMAGE": "cooperbench/base:bookworm"}
DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN echo one > /opt/one.txt
RUN echo two > /opt/two.txt
"""


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[StepEvent] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = step_of(record)
        if event is not None:
            self.events.append(event)


@pytest.fixture
def recorded() -> Iterator[list[StepEvent]]:
    logger = logging.getLogger(PROGRESS_LOGGER)
    recorder = Recorder()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(recorder)
    try:
        yield recorder.events
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)


@pytest.fixture
def image(api: Any) -> Iterator[str]:
    name = f"cooperbench-test/progress-{uuid.uuid4().hex[:10]}:task0"
    yield name
    with contextlib.suppress(Exception):  # never built
        api.remove_image(name)


def task_dir(tmp_path: Path, dockerfile: str) -> Path:
    folder = tmp_path / "task0"
    folder.mkdir()
    (folder / "Dockerfile").write_text(dockerfile)
    return folder


def test_a_build_reports_each_step(
    api: Any, image: str, tmp_path: Path, recorded: list[StepEvent]
) -> None:
    images.ensure_image(api, image, task_dir(tmp_path, DOCKERFILE), BUILD_ARGS, pull=False)
    states = [(e.kind, e.subject, e.state) for e in recorded]
    assert states[0] == ("build", image, "started") and states[-1] == ("build", image, "finished")
    steps = [(e.completed, e.total, e.detail) for e in recorded if e.state == "advanced"]
    assert [s[:2] for s in steps] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert steps[2][2] == "RUN echo one > /opt/one.txt"


def test_a_failed_build_reports_why(
    api: Any, image: str, tmp_path: Path, recorded: list[StepEvent]
) -> None:
    broken = DOCKERFILE + "RUN exit 3\n"
    with pytest.raises(SandboxError, match="failed"):
        images.ensure_image(api, image, task_dir(tmp_path, broken), BUILD_ARGS, pull=False)
    assert recorded[-1].state == "failed" and "returned a non-zero code: 3" in recorded[-1].detail


def test_an_unreachable_registry_is_a_failed_pull(recorded: list[StepEvent]) -> None:
    # Port 9 on the loopback refuses: the pull fails at once and says so.
    failure = images.try_pull("127.0.0.1:9/cooperbench-test/nothing:latest")
    assert failure is not None
    assert [e.state for e in recorded] == ["started", "failed"]
    assert recorded[-1].kind == "pull" and recorded[-1].detail == failure


def test_the_display_prints_a_build_as_lines_off_a_terminal(
    api: Any, image: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with ProgressDisplay(Console(file=io.StringIO(), force_terminal=False)):
        images.ensure_image(api, image, task_dir(tmp_path, DOCKERFILE), BUILD_ARGS, pull=False)
    lines = capfd.readouterr().err.splitlines()
    assert lines[0] == f"building image {image}"
    assert lines[3] == f"build {image}: step 3/4 RUN echo one > /opt/one.txt"
    assert lines[-1].startswith(f"built image {image} (") and len(lines) == 6
