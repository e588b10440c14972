"""SandboxBase._exec_within_lifetime: a command's limit, and its end, under the sandbox's lifetime."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from cooperbench.plugin import ExecResult, SandboxBase, SandboxError, SandboxTerminatedError


class DeadlineSandbox(SandboxBase):
    """A sandbox whose commands are whatever ``behaviour`` does with the limit it gets."""

    def __init__(self, lifetime: float, behaviour: Callable[[float], ExecResult]) -> None:
        super().__init__("sb-1", "/workspace")
        self.deadline = time.monotonic() + lifetime
        self.behaviour = behaviour
        self.limits: list[float] = []

    def _do_exec(
        self, args: list[str], *, timeout: float | None, env: dict[str, str], cwd: str | None
    ) -> ExecResult:
        def run(limit: float) -> ExecResult:
            self.limits.append(limit)
            return self.behaviour(limit)

        return self._exec_within_lifetime(
            self.deadline, timeout, run, command=args[0], sandbox=f"sandbox {self.id}"
        )

    def _do_write_file(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def _do_read_file(self, path: str) -> bytes:
        raise NotImplementedError

    def _do_terminate(self) -> None:
        pass


def _ok(_limit: float) -> ExecResult:
    return ExecResult(0, b"done\n", b"")


def test_the_limit_is_the_timeout_cut_to_the_lifetime_left() -> None:
    sandbox = DeadlineSandbox(100, _ok)
    assert sandbox.exec("true", timeout=5).ok
    assert sandbox.exec("true").ok
    assert sandbox.exec("true", timeout=1000).ok
    short, whole, cut = sandbox.limits
    assert short == 5
    assert 99 < whole <= 100 and 99 < cut <= 100


def test_a_command_after_the_lifetime_is_a_timeout_not_an_exception() -> None:
    sandbox = DeadlineSandbox(-1, _ok)
    result = sandbox.exec("true")
    assert (result.returncode, result.timed_out) == (137, True)
    assert result.stderr_read() == "sandbox lifetime exceeded\n"
    assert sandbox.limits == []


def test_a_failure_because_the_lifetime_ended_meanwhile_is_a_timeout() -> None:
    def lose_the_sandbox(limit: float) -> ExecResult:
        time.sleep(limit + 0.05)  # the backend stops the sandbox at the end of its lifetime
        raise SandboxError("connection reset")

    sandbox = DeadlineSandbox(0.2, lose_the_sandbox)
    result = sandbox.exec("pytest")
    assert (result.returncode, result.timed_out) == (137, True)


def test_a_failure_because_of_terminate_names_the_command_and_sandbox() -> None:
    def terminated_meanwhile(_limit: float) -> ExecResult:
        sandbox.terminate()
        raise SandboxError("connection reset")

    sandbox = DeadlineSandbox(100, terminated_meanwhile)
    with pytest.raises(SandboxTerminatedError, match="sandbox sb-1 was terminated while pytest"):
        sandbox.exec("pytest")


def test_other_failures_within_the_lifetime_propagate() -> None:
    def broken(_limit: float) -> ExecResult:
        raise SandboxError("daemon said no")

    with pytest.raises(SandboxError, match="daemon said no"):
        DeadlineSandbox(100, broken).exec("true")
