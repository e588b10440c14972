"""What a user sees when Modal cannot be used: one clear line, promptly, never a traceback."""

from __future__ import annotations

import io
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from modal_cli import CLI, assert_one_line, copy_logs, eval_command

from cooperbench.backend import get_backend
from cooperbench.errors import BackendUnavailableError, SandboxError
from cooperbench.plugin_manager import PluginManager

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("modal_standin")]

NO_SHELL_IMAGE = "cooperbench-test/modal-no-shell:latest"


def test_no_token_says_how_to_make_one(tmp_path: Path, modal_env: dict[str, str]) -> None:
    env = {k: v for k, v in modal_env.items() if k not in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET")}
    env["MODAL_CONFIG_PATH"] = str(tmp_path / "no-such-modal.toml")
    listed = subprocess.run(
        [*CLI, "backends"], capture_output=True, text=True, env=env, timeout=120
    )
    line = next(row for row in listed.stdout.splitlines() if row.startswith("modal "))
    assert "unusable" in line and "modal token new" in line, listed.stdout
    logs = copy_logs(tmp_path)
    done = subprocess.run(eval_command(logs), capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert_one_line(done.stderr, "modal token new")
    assert list(logs.rglob("eval.json")) == []


def test_token_from_the_modal_config_file_counts(tmp_path: Path, modal_env: dict[str, str]) -> None:
    config = tmp_path / "modal.toml"
    config.write_text('[default]\ntoken_id = "ak-file"\ntoken_secret = "as-file"\nactive = true\n')
    env = {k: v for k, v in modal_env.items() if k not in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET")}
    env["MODAL_CONFIG_PATH"] = str(config)
    listed = subprocess.run(
        [*CLI, "backends"], capture_output=True, text=True, env=env, timeout=120
    )
    line = next(row for row in listed.stdout.splitlines() if row.startswith("modal "))
    assert " usable " in f" {line} ", listed.stdout


def test_unreachable_server_is_one_line_within_seconds(
    tmp_path: Path, modal_env: dict[str, str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**modal_env, "MODAL_SERVER_URL": f"http://127.0.0.1:{port}"}
    logs = copy_logs(tmp_path)
    started = time.monotonic()
    done = subprocess.run(eval_command(logs), capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert_one_line(done.stderr, "cannot reach the Modal server", f"127.0.0.1:{port}")
    # The SDK alone would keep retrying the connection for about a minute.
    assert elapsed < 30, f"took {elapsed:.0f}s"
    assert list(logs.rglob("eval.json")) == []


def test_unreachable_server_from_python_raises_backend_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cooperbench_modal import client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MODAL_SERVER_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(client, "_reachable", set())
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="cannot reach the Modal server"):
        backend.create_sandbox("cooperbench/base:latest", timeout=60)
    assert time.monotonic() - started < 20


def test_unknown_image_is_one_line_and_not_retried() -> None:
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    started = time.monotonic()
    with pytest.raises(SandboxError) as raised:
        backend.create_sandbox("cooperbench-test/no-such-image:1", timeout=60)
    elapsed = time.monotonic() - started
    message = str(raised.value)
    assert "\n" not in message
    assert "cooperbench-test/no-such-image:1 cannot be used on Modal" in message
    # Retries back off 1 s, 2 s, 4 s, ...: an unretried failure is far quicker.
    assert elapsed < 5, f"took {elapsed:.1f}s"


@pytest.fixture(scope="module")
def no_shell_image() -> str:
    """An image with one file and no programs at all: its sandbox cannot even start."""
    import docker

    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY hello /hello\n"), ("hello", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    context.seek(0)
    api = docker.APIClient(version="auto")
    try:
        for event in api.build(
            fileobj=context, custom_context=True, tag=NO_SHELL_IMAGE, rm=True, decode=True
        ):
            assert "error" not in event, event
    finally:
        api.close()
    return NO_SHELL_IMAGE


def test_sandbox_that_never_starts_is_a_sandbox_error(no_shell_image: str) -> None:
    backend = get_backend("modal", PluginManager.discover(disabled=()))
    with pytest.raises(SandboxError) as raised:
        backend.create_sandbox(no_shell_image, timeout=60, options={"start_timeout": 30})
    assert "did not start" in str(raised.value) or "cannot run commands" in str(raised.value)


def test_bad_option_is_one_line_before_any_work(tmp_path: Path, modal_env: dict[str, str]) -> None:
    logs = copy_logs(tmp_path)
    for option, message in (
        ("memory=lots", "backend option memory='lots': not a size"),
        ("cpu=0.01", "backend option cpu='0.01': must be 0"),
        ("app=no spaces", "backend option app='no spaces'"),
        ("colour=red", "backend 'modal' has no option 'colour'"),
    ):
        done = subprocess.run(
            eval_command(logs, "--backend-option", option),
            capture_output=True,
            text=True,
            env=modal_env,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert_one_line(done.stderr, message)
    assert list(logs.rglob("eval.json")) == []
