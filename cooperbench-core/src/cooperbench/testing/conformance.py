"""The sandbox contract as a pytest suite, run once per backend by name.

Subclass :class:`SandboxConformance` in a test module (with a ``Test`` prefix so pytest
collects it) and set :attr:`~SandboxConformance.backend`. Override
:meth:`~SandboxConformance.plugin_manager` to test a backend that is registered by hand
instead of installed, and :meth:`~SandboxConformance.sandbox_options` to pass
backend-specific options. Commands used here need only a POSIX shell and coreutils in
the image.

Reading a file the sandbox's user may not read can only be checked when that user is
not root (root reads everything); the suite skips it then, and
:func:`check_unreadable_files_raise` lets a backend's own tests run it on an image
with an unprivileged user.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from cooperbench.backend import get_backend
from cooperbench.errors import (
    SandboxError,
    SandboxFileNotFoundError,
    SandboxIsADirectoryError,
    SandboxPermissionError,
    SandboxTerminatedError,
)
from cooperbench.exec_output import DEFAULT_OUTPUT_LIMIT
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import ExecResult, Sandbox
from cooperbench.sandbox_paths import SCRATCH_DIR, WORKSPACE_DIR

# Generous bounds: they catch a timeout that does not kill (the call would take the
# full sleep), not slowness.
_SLEEP = 60
_PROMPT = 20.0
# Room for the one marker line where output was dropped.
_MARKER_ROOM = 200
# A small output limit, and how much the commands print past it on each stream.
_SMALL_LIMIT = 4096
_OVER_LIMIT = 300_000


class SandboxConformance:
    """The sandbox contract every backend must pass."""

    #: Name of the backend under test, as users pass it to ``--backend``.
    backend: ClassVar[str]
    #: Image the sandboxes start from; must have ``sh`` and coreutils.
    image: ClassVar[str] = "cooperbench/base:latest"
    #: Working directory requested for the sandboxes.
    workdir: ClassVar[str] = WORKSPACE_DIR

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

    def make_limited_sandbox(self, output_limit: int) -> Sandbox:
        """Create a sandbox whose commands keep ``output_limit`` bytes per stream.

        The limit reaches the backend's ``create_sandbox`` hook in
        ``request.output_limit``, which is where a backend learns the cap it must apply.
        """
        backend = get_backend(self.backend, self.plugin_manager())
        return backend.create_sandbox(
            self.image,
            timeout=300,
            workdir=self.workdir,
            labels={"cooperbench.test": "conformance"},
            options=self.sandbox_options(),
            output_limit=output_limit,
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
        assert not result.truncated
        assert (result.stdout_dropped, result.stderr_dropped) == (0, 0)

    def test_exec_passes_arguments_without_a_shell(self, sandbox: Sandbox) -> None:
        result = sandbox.exec("printf", "%s|", "a b", "$HOME", "*", "'q'")
        assert result.ok
        assert result.stdout_read() == "a b|$HOME|*|'q'|"

    def test_exec_missing_command_fails_without_raising(self, sandbox: Sandbox) -> None:
        result = sandbox.exec("cooperbench-no-such-command")
        assert result.returncode in (126, 127)

    def test_exec_of_a_file_without_execute_permission_is_126(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/noexec.sh", "#!/bin/sh\necho ran\n")
        assert sandbox.exec("chmod", "a-x", "noexec.sh").ok
        for command in ("./noexec.sh", f"{self.workdir}/noexec.sh"):
            result = sandbox.exec(command)
            assert result.returncode == 126, (command, result)
            assert "ran" not in result.stdout_read()

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

    def test_exec_cwd_with_spaces(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/a dir/with spaces/the file.txt", "spaced")
        for cwd in ("a dir/with spaces", f"{self.workdir}/a dir/with spaces"):
            listed = sandbox.exec("ls", cwd=cwd)
            assert listed.stdout_read() == "the file.txt\n", cwd
            assert sandbox.exec("cat", "the file.txt", cwd=cwd).stdout_read() == "spaced"
        named = sandbox.exec("cat", f"{self.workdir}/a dir/with spaces/the file.txt")
        assert named.stdout_read() == "spaced"

    def test_exec_in_a_missing_cwd_raises(self, sandbox: Sandbox) -> None:
        for cwd in ("no/such/dir", f"{self.workdir}/no-such-dir", "/cooperbench-no-such-dir"):
            with pytest.raises(SandboxError):
                sandbox.exec("true", cwd=cwd)
        assert sandbox.exec("true").ok  # and the sandbox is still usable

    def test_exec_accepts_absolute_paths_under_workdir(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/abs.txt", "absolute")
        assert sandbox.exec("cat", f"{self.workdir}/abs.txt").stdout_read() == "absolute"

    def test_exec_large_output(self, sandbox: Sandbox) -> None:
        result = sandbox.exec("sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x")
        assert result.ok
        assert len(result.stdout) == 3_000_000
        assert not result.truncated

    def test_exec_output_over_the_limit_keeps_head_and_tail(self) -> None:
        fill = f"head -c {_OVER_LIMIT} /dev/zero | tr '\\0'"
        script = (
            f"printf 'OUT-HEAD\\n'; {fill} o; printf '\\nOUT-TAIL\\n'; "
            f"printf 'ERR-HEAD\\n' >&2; {fill} e >&2; printf '\\nERR-TAIL\\n' >&2"
        )
        with self.make_limited_sandbox(_SMALL_LIMIT) as limited:
            result = limited.exec("sh", "-c", script, timeout=120)
        assert result.ok
        assert result.truncated
        total = len("OUT-HEAD\n") + _OVER_LIMIT + len("\nOUT-TAIL\n")
        for name, text, dropped in (
            ("OUT", result.stdout, result.stdout_dropped),
            ("ERR", result.stderr, result.stderr_dropped),
        ):
            assert text.startswith(f"{name}-HEAD\n".encode()), text[:100]
            assert text.endswith(f"\n{name}-TAIL\n".encode()), text[-100:]
            assert 0 < total - dropped <= _SMALL_LIMIT, (name, dropped)
            assert len(text) <= _SMALL_LIMIT + _MARKER_ROOM, (name, len(text))
            # The cut is marked, with the number of bytes left out.
            assert str(dropped).encode() in text

    def test_exec_huge_output_completes_under_the_default_limit(self, sandbox: Sandbox) -> None:
        size = 100_000_000
        script = f"head -c {size} /dev/zero | tr '\\0' x; echo; echo END"
        result = sandbox.exec("sh", "-c", script, timeout=300)
        assert result.ok, result.stderr_read()
        assert result.stdout.startswith(b"xxxx")
        assert result.stdout.endswith(b"x\nEND\n")
        assert result.stdout_dropped >= size - DEFAULT_OUTPUT_LIMIT
        assert len(result.stdout) <= DEFAULT_OUTPUT_LIMIT + _MARKER_ROOM
        assert result.stderr_dropped == 0

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
        # Commands with their own env and cwd run side by side, while files are written.
        count, pause = 4, 2
        for index in range(count):
            sandbox.write_file(f"{self.workdir}/conc/{index}/in.txt", f"input {index}")
        script = (
            f'sleep {pause}; printf "%s|%s|%s" "$IDX" "${{PWD##*/}}" "$(cat in.txt)"; '
            'printf "%s" "$IDX" > out.txt'
        )
        outputs: dict[int, str] = {}
        blobs = {f"{self.workdir}/conc/blob{i}.bin": os.urandom(512 * 1024) for i in range(4)}

        def command(index: int) -> None:
            done = sandbox.exec("sh", "-c", script, env={"IDX": str(index)}, cwd=f"conc/{index}")
            outputs[index] = done.stdout_read()

        def writes() -> None:
            for path, data in blobs.items():
                sandbox.write_file(path, data)

        started = time.monotonic()
        errors = _run_threads([*(lambda i=i: command(i) for i in range(count)), writes])
        elapsed = time.monotonic() - started
        assert not errors, errors
        assert outputs == {i: f"{i}|{i}|input {i}" for i in range(count)}
        for index in range(count):
            assert sandbox.read_file(f"conc/{index}/out.txt") == str(index).encode()
        for path, data in blobs.items():
            assert sandbox.read_file(path) == data
        serial = count * pause
        assert elapsed < serial, f"{count} commands of {pause}s took {elapsed:.1f}s: serialized"

    # -- files ------------------------------------------------------------------------

    def test_write_and_read_text(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{self.workdir}/t.txt", "héllo\nwörld\n")
        assert sandbox.read_file(f"{self.workdir}/t.txt").decode() == "héllo\nwörld\n"

    def test_write_and_read_binary(self, sandbox: Sandbox) -> None:
        data = bytes(range(256)) * 16
        sandbox.write_file(f"{SCRATCH_DIR}/bin.dat", data)
        assert sandbox.read_file(f"{SCRATCH_DIR}/bin.dat") == data

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
            f"{SCRATCH_DIR}/batch/a.sh": "#!/bin/sh\necho a\n",
            f"{self.workdir}/batch/deep/er/b.bin": bytes(range(256)),
            "batch/c.txt": "relative, beside the others",
            f"{self.workdir}/batch/big.bin": os.urandom(2 * 1024 * 1024),
        }
        sandbox.write_files(files)
        for path, data in files.items():
            expected = data.encode() if isinstance(data, str) else data
            assert sandbox.read_file(path) == expected
        # Written as the sandbox's user would: its commands can add files beside them.
        made = sandbox.exec("sh", "-c", f"echo x > {SCRATCH_DIR}/batch/made && echo ok")
        assert made.stdout_read().strip() == "ok"

    def test_zero_length_files(self, sandbox: Sandbox) -> None:
        sandbox.write_file("empty.txt", b"")
        assert sandbox.read_file("empty.txt") == b""
        sandbox.write_files({"empties/a": "", f"{self.workdir}/empties/b": b""})
        assert sandbox.read_file("empties/a") == sandbox.read_file("empties/b") == b""
        assert sandbox.exec("sh", "-c", "wc -c < empty.txt").stdout_read().strip() == "0"
        assert sandbox.exec("sh", "-c", ": > made-empty.txt").ok
        assert sandbox.read_file("made-empty.txt") == b""

    def test_file_names_with_spaces(self, sandbox: Sandbox) -> None:
        sandbox.write_file("my dir/a file.txt", "one")
        sandbox.write_files({f"{self.workdir}/my dir/sub dir/b file.txt": "two"})
        assert sandbox.read_file(f"{self.workdir}/my dir/a file.txt") == b"one"
        assert sandbox.read_file("my dir/sub dir/b file.txt") == b"two"
        made = sandbox.exec("sh", "-c", 'printf three > "my dir/c file.txt"')
        assert made.ok
        assert sandbox.read_file("my dir/c file.txt") == b"three"

    def test_write_creates_missing_parents(self, sandbox: Sandbox) -> None:
        sandbox.write_file(f"{SCRATCH_DIR}/p/q/r/s.txt", "deep")
        sandbox.write_file("t/u/v.txt", "relative deep")
        assert sandbox.read_file(f"{SCRATCH_DIR}/p/q/r/s.txt") == b"deep"
        assert sandbox.exec("cat", "t/u/v.txt").stdout_read() == "relative deep"

    def test_reading_a_missing_file_raises(self, sandbox: Sandbox) -> None:
        with pytest.raises(SandboxFileNotFoundError):
            sandbox.read_file(f"{self.workdir}/does-not-exist")
        with pytest.raises(FileNotFoundError):
            sandbox.read_file("also-missing")

    def test_reading_under_a_missing_directory_raises(self, sandbox: Sandbox) -> None:
        with pytest.raises(SandboxFileNotFoundError):
            sandbox.read_file(f"{self.workdir}/no/such/dir/file.txt")
        with pytest.raises(FileNotFoundError):
            sandbox.read_file("/cooperbench-no-such-dir/file.txt")

    def test_reading_a_directory_raises(self, sandbox: Sandbox) -> None:
        sandbox.write_file("adir/inside.txt", "x")
        with pytest.raises(SandboxIsADirectoryError):
            sandbox.read_file("adir")
        with pytest.raises(IsADirectoryError):
            sandbox.read_file(f"{self.workdir}/adir/")
        with pytest.raises(IsADirectoryError):
            sandbox.read_file(self.workdir)

    def test_reading_an_unreadable_file_raises(self, sandbox: Sandbox) -> None:
        if sandbox.exec("id", "-u").stdout_read().strip() == "0":
            pytest.skip(
                "the sandbox's user is root, which may read any file: run "
                "check_unreadable_files_raise on an image with an unprivileged user"
            )
        check_unreadable_files_raise(sandbox)

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


def check_unreadable_files_raise(sandbox: Sandbox) -> None:
    """Assert that files the sandbox's (non-root) user may not read raise on reading.

    One file has no read permission; another sits in a directory the user may not
    enter. Both are made by commands in the sandbox's workdir, so they belong to that
    user, as an agent's files would.
    """
    made = sandbox.exec(
        "sh",
        "-c",
        "printf secret > secret.txt && chmod 000 secret.txt && mkdir -p locked && "
        "printf hidden > locked/inner.txt && chmod 000 locked",
    )
    assert made.ok, made.stderr_read()
    try:
        with pytest.raises(SandboxPermissionError):
            sandbox.read_file("secret.txt")
        with pytest.raises(PermissionError):
            sandbox.read_file(f"{sandbox.workdir}/locked/inner.txt")
    finally:
        sandbox.exec("chmod", "-R", "u+rwx", "locked")  # so the sandbox can be removed
    # What the user may read stays readable.
    assert sandbox.exec("chmod", "600", "secret.txt").ok
    assert sandbox.read_file("secret.txt") == b"secret"


def _run_threads(jobs: list[Callable[[], None]], wait: float = 120.0) -> list[BaseException]:
    """Run ``jobs`` in threads at once; return what they raised."""
    errors: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - reported by the calling test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=wait)
    errors.extend(TimeoutError("a job did not finish") for t in threads if t.is_alive())
    return errors


def _eventually_gone(sandbox: Sandbox, pid: str, wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        probe = sandbox.exec("sh", "-c", f"kill -0 {pid} 2>/dev/null")
        if probe.returncode != 0:
            return True
        time.sleep(0.2)
    return False
