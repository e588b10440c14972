"""The docs' examples that need a Docker engine (``<!-- docs-test: docker -->``), as written.

They run page by page in a fresh copy of the checkout, with this session's
cooperbench-core and cooperbench-docker. The demo's task images are there under their
published names, as they are for a user who pulled them: CI reaches no image registry,
so they are built here from the local base image first.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from docs_blocks import PAGES, ROOT, environment, fresh_checkout, run_block, runnable

pytestmark = pytest.mark.docker

BASE_IMAGE = "cooperbench/base:bookworm"
#: The demo's task images under the published naming, and their task folders.
TASK_IMAGES = {
    "akhatua/cooperbench-demo-textkit:task0": "demo_textkit_task/task0",
    "akhatua/cooperbench-demo-ledger:task7": "demo_ledger_task/task7",
}


@pytest.fixture(scope="module")
def task_images() -> None:
    """Build each demo task image that the engine does not have yet."""
    for image, task in TASK_IMAGES.items():
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
            folder = ROOT / "examples" / "dataset" / task
            subprocess.run(
                [
                    "docker",
                    "build",
                    "-q",
                    "--build-arg",
                    f"BASE_IMAGE={BASE_IMAGE}",
                    "-t",
                    image,
                    folder,
                ],
                env={**os.environ, "DOCKER_BUILDKIT": "0"},
                capture_output=True,
                check=True,
            )


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if runnable(page, "docker")],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_docker_examples_of_the_page_run(page: Path, tmp_path: Path, task_images: None) -> None:
    checkout = fresh_checkout(tmp_path / "cooperbench")
    env = environment()
    for block in runnable(page, "docker"):
        run_block(block, checkout, env)
