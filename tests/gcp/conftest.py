"""Fixtures for the GCP backend tests: local stand-ins of Cloud Batch and Cloud Storage.

The stand-ins (``tests/gcp/standin``) run in this process on 127.0.0.1 ports: a gRPC
Batch server that runs tasks as containers of the local Docker engine, and a storage
server whose objects are files of a directory bind-mounted into those containers. The
real ``google-cloud-batch`` and ``google-cloud-storage`` clients reach them through
``COOPERBENCH_GCP_BATCH_ENDPOINT`` and ``STORAGE_EMULATOR_HOST``. Task images are
built from the demo dataset as the Docker backend names them (no registry).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from standin.batch import LABEL, BatchStandin, remove_containers
from standin.storage import StorageStandin

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
BASE_IMAGE = "cooperbench/base:bookworm"
PROJECT = "cb-test"
REGION = "us-central1"
BUCKET = "cb-test-bucket"
#: A demo task image whose runner sleeps before the tests: its pairs hang.
HANGING_IMAGE = "cooperbench-test/demo-textkit-hang:task0"


@attrs.frozen
class Standins:
    """The running stand-ins and the environment that points the clients at them."""

    batch: BatchStandin
    storage: StorageStandin

    @property
    def env(self) -> dict[str, str]:
        """Variables for the backend (the project and bucket included)."""
        return {
            "COOPERBENCH_GCP_BATCH_ENDPOINT": self.batch.endpoint,
            "STORAGE_EMULATOR_HOST": self.storage.endpoint,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "GCP_REGION": REGION,
            "GCP_BUCKET": BUCKET,
        }

    def objects(self) -> list[str]:
        """Every object of the test bucket."""
        return self.storage.object_names(BUCKET)


def image_exists(image: str) -> bool:
    """True when the local engine has ``image``."""
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return found.returncode == 0


def build(image: str, context: Path, dockerfile: str | None = None) -> None:
    """Build ``image`` from ``context`` on the local base image (never pulls)."""
    command = ["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", image]
    if dockerfile is not None:
        command += ["-f", "-"]
    subprocess.run(
        [*command, str(context)], input=dockerfile, text=True, check=True, capture_output=True
    )


@pytest.fixture(scope="session")
def demo_images() -> dict[str, str]:
    """The demo task images (task dir name -> image), built when missing."""
    from cooperbench.dataset import Dataset

    images = {}
    for task in Dataset(DEMO_DATASET).tasks():
        image = task.image()
        if not image_exists(image):
            build(image, task.path)
        images[f"{task.repo}/{task.task_id}"] = image
    return images


@pytest.fixture(scope="session")
def hanging_image(demo_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A textkit image whose runner sleeps ten minutes before testing anything."""
    base = demo_images["demo_textkit_task/0"]
    dockerfile = (
        f"FROM {base}\n"
        "RUN sed -i 's/^python3 -m pytest/sleep 600\\npython3 -m pytest/' "
        "/usr/local/bin/runner.sh && grep -q 'sleep 600' /usr/local/bin/runner.sh\n"
    )
    build(HANGING_IMAGE, tmp_path_factory.mktemp("hang"), dockerfile)
    return HANGING_IMAGE


@pytest.fixture(scope="session")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standins]:
    """Both stand-ins for the session; every container they start is removed after it."""
    root = tmp_path_factory.mktemp("gcs")
    storage = StorageStandin(root).start()
    storage.create_bucket(BUCKET)
    batch = BatchStandin(root, max_running=4).start()
    try:
        yield Standins(batch, storage)
    finally:
        batch.stop()
        storage.stop()
        left = remove_containers(f"{LABEL}.instance={batch.instance}")
        assert left == 0, f"{left} stand-in container(s) were left running"


@pytest.fixture
def gcp_env(
    standins: Standins, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Standins]:
    """Point this process's backend at the stand-ins, with no user config file."""
    for name, value in standins.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COOPERBENCH_CONFIG_FILE", str(tmp_path / "no-config.json"))
    for name in ("GCP_ZONE", "GCP_MACHINE_TYPE", "GCP_SERVICE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    yield standins
    # Whatever a test did, nothing it created may be left behind (deletions take a moment).
    deadline = time.monotonic() + 30
    while standins.batch.live_jobs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert standins.batch.live_jobs() == []
    assert [name for name in standins.objects() if name.startswith("cooperbench/")] == []
