"""Image resolution: local images as is, task images built once from their Dockerfile."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cooperbench.errors import SandboxError
from cooperbench.sandbox import Sandbox
from cooperbench_docker import images

pytestmark = pytest.mark.docker

MakeSandbox = Callable[..., Sandbox]
BUILD_ARGS = {"BASE_IMAGE": "cooperbench/base:bookworm"}

# The published task Dockerfiles start like this; the entrypoint shows the backend
# replaces whatever the image would run.
TASK_DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
COPY marker.txt /opt/marker.txt
RUN echo "built from $(cat /etc/debian_version)" > /opt/built.txt
ENTRYPOINT ["false"]
"""


@pytest.fixture
def task_image(api: Any) -> Iterator[str]:
    """A fresh image name, removed after the test."""
    name = f"cooperbench-test/build-{uuid.uuid4().hex[:10]}:task0"
    yield name
    # Sandboxes of the image may still run (fixtures end in any order): remove them
    # first, so removing the image leaves no untagged layers behind.
    for container in api.containers(all=True, filters={"ancestor": name}):
        api.remove_container(container["Id"], force=True)
    with contextlib.suppress(Exception):  # never built
        api.remove_image(name)


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "demo_task" / "task0"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(TASK_DOCKERFILE)
    (folder / "marker.txt").write_text("from the task folder\n")
    return folder


@pytest.fixture
def build_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every real build the backend runs (the build itself still happens)."""
    calls: list[str] = []
    real_build = images.build_image

    def counting_build(api: Any, image: str, *args: Any, **kwargs: Any) -> str:
        calls.append(image)
        return real_build(api, image, *args, **kwargs)

    monkeypatch.setattr(images, "build_image", counting_build)
    return calls


def test_task_image_is_built_with_build_args_and_never_rebuilt(
    api: Any,
    make_sandbox: MakeSandbox,
    task_image: str,
    task_dir: Path,
    build_calls: list[str],
) -> None:
    options = {"build_args": BUILD_ARGS}
    first = make_sandbox(image=task_image, task_dir=task_dir, options=options)
    assert first.read_file("/opt/marker.txt") == b"from the task folder\n"
    assert first.read_file("/opt/built.txt").startswith(b"built from 12")  # bookworm
    image_id = api.inspect_image(task_image)["Id"]
    assert build_calls == [task_image]

    second = make_sandbox(image=task_image, task_dir=task_dir, options=options)
    assert second.exec("true").ok
    assert api.inspect_image(task_image)["Id"] == image_id
    assert api.inspect_container(second.id)["Image"] == image_id
    assert build_calls == [task_image], "a cached image was built again"


def test_concurrent_sandboxes_build_the_image_once(
    make_sandbox: MakeSandbox, task_image: str, task_dir: Path, build_calls: list[str]
) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            sandbox = make_sandbox(
                image=task_image, task_dir=task_dir, options={"build_args": BUILD_ARGS}
            )
            assert sandbox.exec("true").ok
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert build_calls == [task_image]


def test_local_image_is_used_without_a_dockerfile(api: Any, build_calls: list[str]) -> None:
    image = images.ensure_image(api, "cooperbench/base:latest", None, {})
    assert image["Id"] == api.inspect_image("cooperbench/base:latest")["Id"]
    assert build_calls == []


def test_demo_task_builds_from_the_local_base_image(
    make_sandbox: MakeSandbox, task_image: str
) -> None:
    demo = (
        Path(__file__).resolve().parents[2] / "examples" / "dataset" / "demo_textkit_task" / "task0"
    )
    if not (demo / "Dockerfile").is_file():
        pytest.skip("the demo dataset is not in this checkout")
    sandbox = make_sandbox(image=task_image, task_dir=demo, options={"build_args": BUILD_ARGS})
    log = sandbox.exec("git", "log", "--oneline", cwd="/workspace/repo")
    assert log.ok and log.stdout_read().strip()
    assert sandbox.exec("test", "-x", "/usr/local/bin/runner.sh").ok


def test_missing_image_without_dockerfile_says_what_to_do(
    make_sandbox: MakeSandbox, task_image: str, tmp_path: Path
) -> None:
    with pytest.raises(SandboxError) as raised:
        make_sandbox(image=task_image, task_dir=tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert f"image {task_image} not found locally" in message
    assert "could not be pulled" in message
    assert "no Dockerfile" in message
    assert "docker build" in message


def test_failing_build_is_a_sandbox_error(
    make_sandbox: MakeSandbox, task_image: str, task_dir: Path
) -> None:
    (task_dir / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nRUN exit 7\n"
    )
    with pytest.raises(SandboxError, match="failed"):
        make_sandbox(image=task_image, task_dir=task_dir, options={"build_args": BUILD_ARGS})
