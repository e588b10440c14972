"""The real Modal SDK against the stand-in, step by step through the sandbox flow."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standin.harness import BASE_IMAGE, ModalStandin

modal = pytest.importorskip("modal")
docker = pytest.importorskip("docker")

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    """The Docker engine's API, to see what the stand-in really did."""
    client = docker.APIClient(version="auto")
    yield client
    client.close()


@pytest.fixture(scope="module")
def app(modal_standin: ModalStandin) -> Any:
    """An app looked up (and created) by name."""
    return modal.App.lookup("standin-sdk-tests", create_if_missing=True)


@pytest.fixture(scope="module")
def image() -> Any:
    """The base image, its entrypoint cleared, as the Modal backend asks for it."""
    return modal.Image.from_registry(BASE_IMAGE).entrypoint([])


@pytest.fixture(scope="module")
def sandbox(app: Any, image: Any) -> Iterator[Any]:
    """One sandbox with env, a secret, tags, resources and a workdir, for many steps."""
    sb = modal.Sandbox.create(
        app=app,
        image=image,
        env={"E": "e1"},
        secrets=[modal.Secret.from_dict({"S": "s1"})],
        tags={"suite": "standin", "role": "main"},
        cpu=2,
        memory=2048,
        workdir="/workspace",
        timeout=300,
    )
    yield sb
    sb.terminate()


def container_of(api: Any, sandbox_id: str) -> dict[str, Any] | None:
    """The inspected container of a sandbox, or ``None`` once it is gone."""
    found = api.containers(all=True, filters={"label": f"modal-standin.sandbox_id={sandbox_id}"})
    return api.inspect_container(found[0]["Id"]) if found else None


def test_client_hello(modal_standin: ModalStandin) -> None:
    client = modal.Client.from_env()
    client.hello()


def test_app_lookup_creates_once(app: Any) -> None:
    again = modal.App.lookup("standin-sdk-tests", create_if_missing=True)
    assert app.app_id.startswith("ap-")
    assert again.app_id == app.app_id
    with pytest.raises(modal.exception.NotFoundError):
        modal.App.lookup("standin-never-created")


def test_create_maps_resources_and_labels(
    api: Any, sandbox: Any, modal_standin: ModalStandin
) -> None:
    container = container_of(api, sandbox.object_id)
    assert container is not None
    host = container["HostConfig"]
    assert host["CpuShares"] == 2048
    assert host["MemoryReservation"] == 2048 * 1024 * 1024
    assert host["NetworkMode"] == modal_standin.network
    assert container["Config"]["Labels"]["modal-standin.instance"] == modal_standin.instance_id


def test_absent_image_fails_clearly(app: Any) -> None:
    absent = modal.Image.from_registry("cooperbench/never-built:none").entrypoint([])
    with pytest.raises(modal.exception.ImageBuildError, match="not present in the local Docker"):
        modal.Sandbox.create(app=app, image=absent, timeout=30)


def test_exec_output_code_workdir_env(sandbox: Any) -> None:
    p = sandbox.exec(
        "bash",
        "-c",
        "echo out; pwd; echo A=$A; echo err >&2; exit 3",
        workdir="/tmp",
        env={"A": "1"},
    )
    assert p.stdout.read() == "out\n/tmp\nA=1\n"
    assert p.stderr.read() == "err\n"
    assert p.wait() == 3


def test_exec_sees_sandbox_workdir_env_and_secret(sandbox: Any) -> None:
    p = sandbox.exec("bash", "-c", 'echo "$(pwd) $E $S"')
    assert p.stdout.read() == "/workspace e1 s1\n"
    assert p.wait() == 0


def test_block_network_leaves_only_loopback(app: Any, image: Any, api: Any) -> None:
    sb = modal.Sandbox.create(app=app, image=image, block_network=True, timeout=60)
    try:
        assert sb.exec("ls", "/sys/class/net").stdout.read().split() == ["lo"]
        assert container_of(api, sb.object_id)["HostConfig"]["NetworkMode"] == "none"
    finally:
        sb.terminate()


def test_exec_bytes_and_large_output(sandbox: Any) -> None:
    p = sandbox.exec("bash", "-c", "head -c 3000000 /dev/zero | tr '\\0' x", text=False)
    out = p.stdout.read()
    assert isinstance(out, bytes)
    assert out == b"x" * 3_000_000
    assert p.wait() == 0


def test_exec_timeout_kills_process_tree(sandbox: Any) -> None:
    started = time.monotonic()
    p = sandbox.exec("bash", "-c", "(setsid sleep 61 &); sleep 60; echo never", timeout=2)
    assert p.wait() == -1
    assert time.monotonic() - started < 6
    time.sleep(0.5)  # the kill runs beside the client's own deadline
    left = sandbox.exec("ps", "-eo", "args").stdout.read()
    assert "sleep 60" not in left
    assert "sleep 61" not in left


def test_timed_out_exec_output_only_survives_live_reads(sandbox: Any) -> None:
    p = sandbox.exec("bash", "-c", "echo before; sleep 30", timeout=2)
    assert p.stdout.read() == "before\n"  # read while it runs; ends at the deadline
    assert p.wait() == -1
    q = sandbox.exec("bash", "-c", "echo before; sleep 30", timeout=2)
    assert q.wait() == -1
    assert q.stdout.read() == ""


def test_exec_stdin_round_trips(sandbox: Any) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    p = sandbox.exec("cat", text=False)
    p.stdin.write(data[:1000])
    p.stdin.write(data[1000:])
    p.stdin.write_eof()
    p.stdin.drain()
    assert p.stdout.read() == data
    assert p.wait() == 0


def test_exec_poll(sandbox: Any) -> None:
    p = sandbox.exec("bash", "-c", "sleep 1; exit 5")
    assert p.poll() is None
    assert p.wait() == 5
    assert p.poll() == 5


def test_missing_binary_is_code_126(sandbox: Any) -> None:
    assert sandbox.exec("no-such-binary").wait() == 126


def test_filesystem_large_write_and_read(sandbox: Any) -> None:
    data = bytes(range(251)) * 8000 + b"tail"  # about 2 MB, not a multiple of any chunk
    sandbox.filesystem.write_bytes(data, "/tmp/deep/er/file.bin")
    assert sandbox.filesystem.read_bytes("/tmp/deep/er/file.bin") == data
    # Existing directories keep their mode.
    assert sandbox.exec("stat", "-c", "%a", "/tmp").stdout.read().strip() == "1777"


def test_filesystem_copy_both_ways(sandbox: Any, tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out" / "back.bin"
    source.write_bytes(b"\x00\x01" * 1_000_000 + b"!")
    sandbox.filesystem.copy_from_local(source, "/tmp/copied.bin")
    sandbox.filesystem.copy_to_local("/tmp/copied.bin", target)
    assert target.read_bytes() == source.read_bytes()


def test_filesystem_directories_listing_stat_remove(sandbox: Any) -> None:
    fs = sandbox.filesystem
    fs.make_directory("/tmp/tree/a/b")
    fs.make_directory("/tmp/tree/a/b")  # idempotent with parents
    with pytest.raises(modal.exception.SandboxFilesystemPathAlreadyExistsError):
        fs.make_directory("/tmp/tree/a", create_parents=False)
    with pytest.raises(modal.exception.SandboxFilesystemNotFoundError):
        fs.make_directory("/tmp/tree/missing/x", create_parents=False)
    fs.write_text("héllo", "/tmp/tree/a/note.txt")
    assert fs.read_text("/tmp/tree/a/note.txt") == "héllo"
    entries = {e.name: e for e in fs.list_files("/tmp/tree/a")}
    assert sorted(entries) == ["b", "note.txt"]
    assert entries["b"].is_dir() and entries["note.txt"].is_file()
    info = fs.stat("/tmp/tree/a/note.txt")
    assert (info.size, info.owner, info.path) == (6, "root", "/tmp/tree/a/note.txt")
    assert info.permissions == "rw-r--r--"
    with pytest.raises(modal.exception.SandboxFilesystemNotFoundError):
        fs.stat("/tmp/tree/nothing")
    with pytest.raises(modal.exception.SandboxFilesystemNotFoundError):
        fs.read_bytes("/tmp/tree/nothing")
    with pytest.raises(modal.exception.SandboxFilesystemIsADirectoryError):
        fs.read_bytes("/tmp/tree/a")
    with pytest.raises(modal.exception.SandboxFilesystemIsADirectoryError):
        fs.write_bytes(b"x", "/tmp/tree/a")
    with pytest.raises(modal.exception.SandboxFilesystemNotADirectoryError):
        fs.list_files("/tmp/tree/a/note.txt")
    with pytest.raises(modal.exception.SandboxFilesystemDirectoryNotEmptyError):
        fs.remove("/tmp/tree/a")
    fs.remove("/tmp/tree/a/note.txt")
    fs.remove("/tmp/tree", recursive=True)
    with pytest.raises(modal.exception.SandboxFilesystemNotFoundError):
        fs.remove("/tmp/tree")


def test_tags_and_list_with_paging(app: Any, image: Any, sandbox: Any) -> None:
    assert sandbox.get_tags() == {"suite": "standin", "role": "main"}
    others = [
        modal.Sandbox.create(app=app, image=image, tags={"suite": "paging"}, timeout=60)
        for _ in range(3)
    ]
    try:
        others[0].set_tags({"suite": "paging", "pick": "me"})
        assert others[0].get_tags() == {"suite": "paging", "pick": "me"}
        listed = [
            s.object_id for s in modal.Sandbox.list(app_id=app.app_id, tags={"suite": "paging"})
        ]
        assert sorted(listed) == sorted(s.object_id for s in others)
        picked = list(modal.Sandbox.list(app_id=app.app_id, tags={"pick": "me"}))
        assert [s.object_id for s in picked] == [others[0].object_id]
        others[1].terminate()
        listed = [
            s.object_id for s in modal.Sandbox.list(app_id=app.app_id, tags={"suite": "paging"})
        ]
        assert others[1].object_id not in listed
    finally:
        for sb in others:
            sb.terminate()


def test_from_id_handle_can_exec(sandbox: Any) -> None:
    again = modal.Sandbox.from_id(sandbox.object_id)
    assert again.exec("echo", "hi").stdout.read() == "hi\n"
    assert again.poll() is None


def test_unimplemented_rpc_raises_unimplemented_error(modal_standin: ModalStandin) -> None:
    with pytest.raises(modal.exception.UnimplementedError, match="does not implement"):
        modal.Dict.from_name("standin-dict", create_if_missing=True).hydrate()


def test_poll_terminate_wait(app: Any, image: Any, api: Any) -> None:
    sb = modal.Sandbox.create(app=app, image=image, timeout=60)
    assert sb.poll() is None
    sb.terminate()
    sb.terminate()  # idempotent
    sb.wait(raise_on_termination=False)
    assert sb.returncode == 137
    assert container_of(api, sb.object_id) is None
    with pytest.raises(modal.exception.ConflictError):
        sb.exec("true")
    with pytest.raises(modal.exception.ConflictError):
        modal.Sandbox.from_id(sb.object_id).exec("true")


def test_lifetime_expiry_is_a_timeout(app: Any, image: Any, api: Any) -> None:
    started = time.monotonic()
    sb = modal.Sandbox.create(app=app, image=image, timeout=3)
    with pytest.raises(modal.exception.SandboxTimeoutError):
        sb.wait(raise_on_termination=False)
    assert 2.5 < time.monotonic() - started < 10
    assert sb.returncode == 124
    assert container_of(api, sb.object_id) is None


def test_image_env_layer_reaches_sandbox(app: Any, image: Any) -> None:
    sb = modal.Sandbox.create(app=app, image=image.env({"LAYER": "a b"}), timeout=60)
    try:
        assert sb.exec("bash", "-c", 'echo "$LAYER"').stdout.read() == "a b\n"
    finally:
        sb.terminate()


def test_entrypoint_exit_code_is_returncode(app: Any, image: Any) -> None:
    sb = modal.Sandbox.create("bash", "-c", "exit 7", app=app, image=image, timeout=60)
    sb.wait(raise_on_termination=False)
    assert sb.returncode == 7


def test_tunnels_reach_sandbox_from_host_and_other_sandbox(
    app: Any, image: Any, modal_standin: ModalStandin
) -> None:
    server = modal.Sandbox.create(
        "python3",
        "-m",
        "http.server",
        "8000",
        app=app,
        image=image,
        encrypted_ports=[8000],
        unencrypted_ports=[9000],
        timeout=60,
    )
    client = modal.Sandbox.create(app=app, image=image, timeout=60)
    try:
        server.exec("bash", "-c", "nohup python3 -m http.server 9000 >/dev/null 2>&1 &").wait()
        tunnels = server.tunnels()
        assert sorted(tunnels) == [8000, 9000]
        host, port = tunnels[9000].tcp_socket
        with pytest.raises(modal.exception.InvalidError):
            _ = tunnels[8000].tcp_socket
        assert _http_status(host, port, None) == 200
        context = ssl.create_default_context(cafile=str(modal_standin.ca_file))
        assert _http_status(*tunnels[8000].tls_socket, context) == 200
        script = (
            "import json, sys, urllib.request\n"
            "url, raw = sys.argv[1], sys.argv[2]\n"
            "print(json.dumps([urllib.request.urlopen(u, timeout=10).status for u in (url, raw)]))\n"
        )
        p = client.exec("python3", "-c", script, tunnels[8000].url, f"http://{host}:{port}/")
        assert json.loads(p.stdout.read()) == [200, 200], p.stderr.read()
    finally:
        server.terminate()
        client.terminate()


def _http_status(host: str, port: int, context: ssl.SSLContext | None) -> int:
    deadline = time.monotonic() + 15
    while True:  # the server in the sandbox may still be starting
        try:
            with socket.create_connection((host, port), timeout=5) as raw:
                conn = context.wrap_socket(raw, server_hostname=host) if context else raw
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                reply = conn.recv(64)
            return int(reply.split()[1])
        except (OSError, IndexError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
