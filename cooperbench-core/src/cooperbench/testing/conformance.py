"""The sandbox contract as a pytest suite, run once per backend by name.

Subclass :class:`SandboxConformance` in a test module (with a ``Test`` prefix so pytest
collects it) and set :attr:`~SandboxConformance.backend`. Override
:meth:`~SandboxConformance.plugin_manager` to test a backend that is registered by hand
instead of installed, and :meth:`~SandboxConformance.sandbox_options` to pass
backend-specific options. Commands used here need only a POSIX shell and coreutils in
the image.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from cooperbench.backend import get_backend
from cooperbench.errors import SandboxFileNotFoundError, SandboxTerminatedError
from cooperbench.plugins import PluginManager
from cooperbench.sandbox import ExecResult, Sandbox

# Generous bounds: they catch a timeout that does not kill (the call would take the
# full sleep), not slowness.
_SLEEP = 60
_PROMPT = 20.0


class SandboxConformance:
    """The sandbox contract every backend must pass."""

    #: Name of the backend under test, as users pass it to ``--backend``.
    backend: ClassVar[str]
    #: Image the sandboxes start from; must have ``sh`` and coreutils.
    image: ClassVar[str] = "cooperbench/base:latest"
    #: Working directory requested for the sandboxes.
    workdir: ClassVar[str] = "/workspace"

    def plugin_manager(self) -> PluginManager:
        """The plugins to resolve :attr:`backend` with (default: discovery)."""
        return PluginManager.discover()

    def sandbox_options(self) -> dict[str, Any]:
        """Backend-specific options for every sandbox the suite creates."""
        return {}

    def make_sandbox(self, timeout: int = 300) -> Sandbox:
        """Create a sandbox on the backend under test."""
        backend = get_backend(self.backend, self.plugin_manager())
        return backend.create_sandbox(
            self.image,
            timeout=timeout,
            workdir=self.workdir,
            labels={"cooperbench.test": "conformance"},
            options=self.sandbox_options(),
        )

    @pytest.fixture
    def sandbox(self) -> Iterator[Sandbox]:
        """A fresh sandbox per test, always terminated."""
        created = self.make_sandbox()
        try:
            yield created
        finally:
            created.terminate()

    # -- exec -------------------------------------------------------------------------

    def test_exec_captures_output_and_exit_code(self, sandbox: Sandbox) -> None:
        result = sandbox.exec("sh", "-c", "echo out; echo err >&2; exit 3")
        assert isinstance(result, ExecResult)
        assert result.returncode == 3
        assert result.stdout_read() == "out\n"
        assert result.stderr_read() == "err\n"
        assert not result.timed_out

    def test_exec_passes_arguments_without_a_shell(self, sandbox: Sandbox) -> None:
        result = sandbox.exec("printf", "%s|", "a b", "$HOME", "*", "'q'")
        assert result.ok
        assert result.stdout_read() == "a b|$HOME|*|'q'|"

    def test_exec_missing_command_fails_without_raising(self, sandbox: Sandbox) -> None:
        result = sandbox.exec("cooperbench-no-such-command")
        assert result.returncode in (126, 127)

    def test_exec_env_applies_to_one_command(self, sandbox: Sandbox) -> None:
        first = sandbox.exec("sh", "-c", 'printf %s "$COOP_VAR"', env={"COOP_VAR": "v 1"})
        assert first.stdout_read() == "v 1"
        second = sandbox.exec("sh", "-c", 'printf %s "${COOP_VAR:-unset}"')
        assert second.stdout_read() == "unset"

    def test_exec_default_cwd_is_workdir(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/marker.txt", "here")
        assert sandbox.exec("cat", "marker.txt").stdout_read() == "here"

    def test_exec_cwd_absolute_and_relative(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/sub/dir/f.txt", "deep")
        absolute = sandbox.exec("cat", "f.txt", cwd=f"{self.workdir}/sub/dir")
        relative = sandbox.exec("cat", "f.txt", cwd="sub/dir")
        assert absolute.stdout_read() == relative.stdout_read() == "deep"

    def test_exec_accepts_absolute_paths_under_workdir(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/abs.txt", "absolute")
        assert sandbox.exec("cat", f"{self.workdir}/abs.txt").stdout_read() == "absolute"

    def test_exec_large_output(self, sandbox: Sandbox) -> None:
        result = sandbox.exec("sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x")
        assert result.ok
        assert len(result.stdout) == 3_000_000

    def test_exec_timeout_kills_command_and_its_children(self, sandbox: Sandbox) -> None:
        script = f"sleep {_SLEEP} & echo $! > child.pid; sleep {_SLEEP}"
        started = time.monotonic()
        result = sandbox.exec("sh", "-c", script, timeout=2)
        elapsed = time.monotonic() - started
        assert result.timed_out
        assert not result.ok
        assert elapsed < _PROMPT, f"exec returned after {elapsed:.1f}s, the timeout was 2s"
        child = sandbox.read_file(f"{self.workdir}/child.pid").decode().strip()
        assert child.isdigit()
        assert _eventually_gone(sandbox, child), f"child process {child} survived the timeout"

    def test_sandbox_usable_after_a_timeout(self, sandbox: Sandbox) -> None:
        assert sandbox.exec("sleep", str(_SLEEP), timeout=1).timed_out
        assert sandbox.exec("echo", "still here").stdout_read() == "still here\n"

    def test_concurrent_exec(self, sandbox: Sandbox) -> None:
        outputs: dict[int, str] = {}

        def work(index: int) -> None:
            outputs[index] = sandbox.exec("sh", "-c", f"sleep 1; echo {index}").stdout_read()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert outputs == {i: f"{i}\n" for i in range(3)}

    # -- files ------------------------------------------------------------------------

    def test_write_and_read_text(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/t.txt", "héllo\nwörld\n")
        assert sandbox.read_file(f"{self.workdir}/t.txt").decode() == "héllo\nwörld\n"

    def test_write_and_read_binary(self, sandbox: Sandbox) -> None:
        data = bytes(range(256)) * 16
        sandbox.write_file("/tmp/cooperbench/bin.dat", data)
        assert sandbox.read_file("/tmp/cooperbench/bin.dat") == data

    def test_large_file_in_and_out(self, sandbox: Sandbox) -> None:
        data = os.urandom(3 * 1024 * 1024)
        sandbox.write_file(f"{self.workdir}/big/blob.bin", data)
        size = sandbox.exec("sh", "-c", "wc -c < big/blob.bin").stdout_read().strip()
        assert int(size) == len(data)
        assert sandbox.read_file(f"{self.workdir}/big/blob.bin") == data

    def test_relative_paths_are_under_workdir(self, sandbox: Sandbox) -> None:
        sandbox.write_file("rel/x.txt", "relative")
        assert sandbox.read_file(f"{self.workdir}/rel/x.txt") == b"relative"

    def test_overwrite_replaces_content(self, sandbox: Sandbox) -> None:
        sandbox.write_file("o.txt", "a much longer first version")
        sandbox.write_file("o.txt", "short")
        assert sandbox.read_file("o.txt") == b"short"

    def test_file_made_by_a_command_is_readable(self, sandbox: Sandbox) -> None:
        sandbox.exec("sh", "-c", "printf made > made.txt")
        assert sandbox.read_file("made.txt") == b"made"

    def test_write_files_in_several_new_directories(self, sandbox: Sandbox) -> None:
        files: dict[str, bytes | str] = {
            "/tmp/cooperbench/batch/a.sh": "#!/bin/sh\necho a\n",
            f"{self.workdir}/batch/deep/er/b.bin": bytes(range(256)),
            "batch/c.txt": "relative, beside the others",
            f"{self.workdir}/batch/big.bin": os.urandom(2 * 1024 * 1024),
        }
        sandbox.write_files(files)
        for path, data in files.items():
            expected = data.encode() if isinstance(data, str) else data
            assert sandbox.read_file(path) == expected
        # Written as the sandbox's user would: its commands can add files beside them.
        made = sandbox.exec("sh", "-c", "echo x > /tmp/cooperbench/batch/made && echo ok")
        assert made.stdout_read().strip() == "ok"

    def test_reading_a_missing_file_raises(self, sandbox: Sandbox) -> None:
        with pytest.raises(SandboxFileNotFoundError):
            sandbox.read_file(f"{self.workdir}/does-not-exist")
        with pytest.raises(FileNotFoundError):
            sandbox.read_file("also-missing")

    # -- lifecycle --------------------------------------------------------------------

    def test_terminate_is_idempotent_and_final(self) -> None:
        created = self.make_sandbox()
        created.terminate()
        created.terminate()
        with pytest.raises(SandboxTerminatedError):
            created.exec("true")
        with pytest.raises(SandboxTerminatedError):
            created.write_files({"anything": "x"})

    def test_context_manager_terminates(self) -> None:
        with self.make_sandbox() as created:
            assert created.exec("true").ok
        with pytest.raises(SandboxTerminatedError):
            created.exec("true")

    def test_lifetime_cap_stops_long_commands(self) -> None:
        with self.make_sandbox(timeout=4) as created:
            started = time.monotonic()
            result = created.exec("sleep", str(_SLEEP))
            elapsed = time.monotonic() - started
        assert not result.ok
        assert elapsed < _SLEEP / 2, f"a 4s sandbox let a command run {elapsed:.1f}s"


def _eventually_gone(sandbox: Sandbox, pid: str, wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        probe = sandbox.exec("sh", "-c", f"kill -0 {pid} 2>/dev/null")
        if probe.returncode != 0:
            return True
        time.sleep(0.2)
    return False
