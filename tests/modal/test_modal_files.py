"""Files in and out of Modal sandboxes: staging cost, large files, a non-root user."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest

from cooperbench.backend import get_backend
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import Sandbox
from cooperbench.testing.conformance import check_unreadable_files_raise

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("modal_standin")]

BASE_IMAGE = "cooperbench/base:latest"
NON_ROOT_IMAGE = "cooperbench-test/modal-non-root:latest"


@pytest.fixture(scope="module")
def non_root_image() -> str:
    """An image whose commands run as the unprivileged user ``runner`` (built once)."""
    import docker
    import docker.errors

    api = docker.APIClient(version="auto")
    try:
        api.inspect_image(NON_ROOT_IMAGE)
    except docker.errors.ImageNotFound:
        dockerfile = (
            f"FROM {BASE_IMAGE}\nRUN useradd -m runner\nUSER runner\nWORKDIR /home/runner\n"
        )
        for event in api.build(
            fileobj=io.BytesIO(dockerfile.encode()), tag=NON_ROOT_IMAGE, rm=True, decode=True
        ):
            assert "error" not in event, event
    finally:
        api.close()
    return NON_ROOT_IMAGE


def make(image: str = BASE_IMAGE, **kwargs: Any) -> Sandbox:
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    return backend.create_sandbox(image, timeout=180, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    created = make()
    try:
        yield created
    finally:
        created.terminate()


class Calls:
    """Counts the SDK calls a sandbox makes that each cost a round trip to Modal."""

    def __init__(self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        self.execs = 0
        self.uploads = 0
        handle = sandbox.handle  # type: ignore[attr-defined]
        real_exec, filesystem = handle.exec, handle.filesystem
        real_write = filesystem.write_bytes

        def exec_counted(*args: Any, **kwargs: Any) -> Any:
            self.execs += 1
            return real_exec(*args, **kwargs)

        def write_counted(*args: Any, **kwargs: Any) -> Any:
            self.uploads += 1
            return real_write(*args, **kwargs)

        monkeypatch.setattr(handle, "exec", exec_counted)
        monkeypatch.setattr(filesystem, "write_bytes", write_counted)


def test_staging_costs_the_same_for_few_and_many_files(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    costs = []
    for count in (3, 40):
        calls = Calls(sandbox, monkeypatch)
        files = {f"/tmp/stage{count}/{i}/f.txt": f"file {i}" for i in range(count)}
        files[f"rel{count}/deep/x.bin"] = os.urandom(1024)
        sandbox.write_files(files)
        costs.append((calls.uploads, calls.execs))
        for path, data in files.items():
            expected = data.encode() if isinstance(data, str) else data
            assert sandbox.read_file(path) == expected
        monkeypatch.undo()
    assert costs[0] == costs[1] == (1, 1), costs
    # The archive is gone once unpacked.
    left = sandbox.exec("sh", "-c", "ls -A /tmp/.cooperbench-staging 2>/dev/null | wc -l")
    assert left.stdout_read().strip() == "0"


def test_staged_files_keep_existing_directories(sandbox: Sandbox) -> None:
    sandbox.write_files({"/tmp/a/one.txt": "1", "/tmp/b/two.txt": "2"})
    listing = sandbox.exec("stat", "-c", "%a %U", "/tmp", "/tmp/a", "/tmp/a/one.txt")
    assert listing.stdout_read().split("\n")[:3] == ["1777 root", "755 root", "644 root"]


def test_large_files_both_ways(sandbox: Sandbox) -> None:
    data = os.urandom(24 * 1024 * 1024)
    sandbox.write_files({"big/one.bin": data, "big/two.bin": data[:1000]})
    assert sandbox.read_file("big/one.bin") == data
    made = sandbox.exec(
        "sh", "-c", "head -c 20000000 /dev/urandom > made.bin && sha256sum made.bin"
    )
    assert made.ok
    read = sandbox.read_file("made.bin")
    assert len(read) == 20_000_000
    import hashlib

    assert made.stdout_read().split()[0] == hashlib.sha256(read).hexdigest()


def test_non_root_user_cannot_read_more_than_it_may(non_root_image: str) -> None:
    with make(non_root_image, workdir="/home/runner") as sandbox:
        assert sandbox.exec("id", "-un").stdout_read().strip() == "runner"
        check_unreadable_files_raise(sandbox)
        sandbox.write_files({"/home/runner/x/a.txt": "a", "/home/runner/x/b.txt": "b"})
        owner = sandbox.exec("stat", "-c", "%U", "/home/runner/x", "/home/runner/x/a.txt")
        assert owner.stdout_read().split() == ["runner", "runner"]
