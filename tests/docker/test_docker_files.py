"""Files through Docker's archive API: batched writes, and what a non-root user may read."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from cooperbench.errors import SandboxIsADirectoryError
from cooperbench.sandbox import Sandbox
from cooperbench.testing.conformance import check_unreadable_files_raise
from cooperbench_docker import sandbox as docker_sandbox

pytestmark = pytest.mark.docker

MakeSandbox = Callable[..., Sandbox]
BASE_IMAGE = "cooperbench/base:latest"
NON_ROOT_IMAGE = "cooperbench-test/non-root:latest"


@pytest.fixture
def non_root_image(api: Any) -> str:
    """An image whose commands run as the unprivileged user ``runner`` (built once)."""
    import docker.errors

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
    return NON_ROOT_IMAGE


@pytest.fixture
def transfers(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many archives went into sandboxes (counted on the real API calls)."""
    counts = {"put": 0}
    real_create = docker_sandbox.DockerSandbox.create.__func__  # type: ignore[attr-defined]

    def counting_create(cls: Any, request: Any) -> Any:
        sandbox = real_create(cls, request)
        api = sandbox._api
        put = api.put_archive

        def counted_put(*args: Any, **kwargs: Any) -> Any:
            counts["put"] += 1
            return put(*args, **kwargs)

        monkeypatch.setattr(api, "put_archive", counted_put)
        return sandbox

    monkeypatch.setattr(docker_sandbox.DockerSandbox, "create", classmethod(counting_create))
    return counts


def test_many_files_go_in_with_one_transfer(
    make_sandbox: MakeSandbox, transfers: dict[str, int]
) -> None:
    sandbox = make_sandbox()
    files = {f"/tmp/cooperbench/in/{i}.txt": f"file {i}" for i in range(5)}
    files["/patches/agent1.patch"] = "diff"
    files["deep/new/dir/x"] = "relative"
    sandbox.write_files(files)
    assert transfers["put"] == 1
    for path, data in files.items():
        assert sandbox.read_file(path) == data.encode()
    listing = sandbox.exec("stat", "-c", "%a %U", "/tmp", "/tmp/cooperbench/in", "/patches")
    # Existing directories keep their mode; new ones are made as `mkdir -p` would.
    assert listing.stdout_read().split("\n")[:3] == ["1777 root", "755 root", "755 root"]


def test_non_root_user_owns_the_directories_it_gets(
    make_sandbox: MakeSandbox, non_root_image: str
) -> None:
    sandbox = make_sandbox(image=non_root_image, workdir="/home/runner")
    sandbox.write_files({"/tmp/cooperbench/a.sh": "a", "/tmp/cooperbench/b": "b", "w/c": "c"})
    made = sandbox.exec(
        "sh", "-c", "touch /tmp/cooperbench/junit.xml w/more && stat -c %U /tmp/cooperbench w"
    )
    assert made.ok, made.stderr_read()
    assert made.stdout_read().split() == ["runner", "runner"]
    assert sandbox.read_file("/tmp/cooperbench/b") == b"b"


def test_non_root_user_reads_only_what_it_may(
    make_sandbox: MakeSandbox, non_root_image: str
) -> None:
    # The archive API reads as root; the sandbox's reads must not.
    sandbox = make_sandbox(image=non_root_image, workdir="/home/runner")
    assert sandbox.exec("id", "-u").stdout_read().strip() != "0"
    check_unreadable_files_raise(sandbox)
    sandbox.write_file("mine.txt", "readable")
    assert sandbox.read_file("mine.txt") == b"readable"
    assert sandbox.read_file("/etc/hostname")  # root's, but readable by everyone


def test_reading_a_directory_transfers_nothing(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox()
    sandbox.exec("sh", "-c", "mkdir -p tree && head -c 50000000 /dev/zero > tree/big")
    reads = []
    get_archive = sandbox._api.get_archive  # type: ignore[attr-defined]

    def counted(*args: Any, **kwargs: Any) -> Any:
        chunks, stat = get_archive(*args, **kwargs)
        consumed: list[int] = []
        reads.append(consumed)

        def counting() -> Any:
            for chunk in chunks:
                consumed.append(len(chunk))
                yield chunk

        return counting(), stat

    sandbox._api.get_archive = counted  # type: ignore[attr-defined]
    with pytest.raises(SandboxIsADirectoryError):
        sandbox.read_file("tree")
    assert reads and sum(reads[0]) == 0
