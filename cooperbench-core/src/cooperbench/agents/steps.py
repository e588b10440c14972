"""Commands an agent runs in its sandbox, recorded as its trajectory, and its final patch."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from cooperbench.agents.types import AgentTask
from cooperbench.errors import AgentError, SandboxError
from cooperbench.sandbox import ExecResult
from cooperbench.sandbox_paths import SCRATCH_DIR

#: Characters of a command's output kept in the trajectory (outputs can be huge).
OUTPUT_TAIL = 4000
#: Seconds any one bookkeeping command (git, coop-msg) may take.
STEP_TIMEOUT = 120.0
#: Where :meth:`StepRecorder.patch` has git write the patch inside the sandbox.
PATCH_FILE = f"{SCRATCH_DIR}/submission.patch"

# Arguments: the stdout log, the stderr log, then the command. Its output goes to the
# logs inside the sandbox, never through the harness; `exec` keeps its exit status.
_TO_LOGS = 'out=$1; err=$2; shift 2; mkdir -p "${out%/*}" "${err%/*}" && exec "$@" >"$out" 2>"$err"'
# Arguments: a log file and a byte count. Prints the file's size, then its last bytes.
_LOG_TAIL = 'wc -c < "$1" && tail -c "$2" "$1"'


@attrs.frozen
class LoggedRun:
    """A command run by :meth:`StepRecorder.run_logged`: its result and its logs' ends.

    ``stdout``/``stderr`` are the last :data:`OUTPUT_TAIL` bytes of each log (prefixed
    with ``...`` when the log is longer), ``stdout_bytes``/``stderr_bytes`` their sizes.
    """

    result: ExecResult
    stdout_log: str
    stderr_log: str
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0


def tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    """The last ``limit`` characters of ``text``."""
    return text if len(text) <= limit else "..." + text[-limit:]


class StepRecorder:
    """Runs commands in an agent's sandbox and keeps one trajectory entry per command."""

    def __init__(self, task: AgentTask) -> None:
        self.task = task
        self.trajectory: list[dict[str, Any]] = []

    def note(self, kind: str, **fields: Any) -> None:
        """Add a trajectory entry that is not a command (a message, a decision)."""
        self.trajectory.append({"type": kind, "time": time.time(), **fields})

    def run(
        self,
        *args: str,
        timeout: float = STEP_TIMEOUT,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        """Run ``args`` in the repository with the agent's environment and record it."""
        result = self.task.sandbox.exec(
            *args,
            timeout=timeout,
            env={**self.task.env, **(env or {})},
            cwd=cwd or self.task.repo_dir,
        )
        self._note_command(args, result, tail(result.stdout_read()), tail(result.stderr_read()))
        return result

    def run_logged(
        self,
        *args: str,
        stdout_log: str,
        stderr_log: str,
        timeout: float = STEP_TIMEOUT,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> LoggedRun:
        """Run ``args`` like :meth:`run`, with its output written to log files in the sandbox.

        For commands that may print without bound (an agent CLI): the harness holds only
        the end of each log, read back after the command, never the whole output.
        ``stdout_log`` and ``stderr_log`` are absolute sandbox paths; their directories
        are created, and the logs stay in the sandbox until it is terminated.
        """
        result = self.task.sandbox.exec(
            "sh",
            "-c",
            _TO_LOGS,
            "cooperbench-logged",
            stdout_log,
            stderr_log,
            *args,
            timeout=timeout,
            env={**self.task.env, **(env or {})},
            cwd=cwd or self.task.repo_dir,
        )
        stdout, stdout_bytes = self._log_tail(stdout_log)
        stderr, stderr_bytes = self._log_tail(stderr_log)
        done = LoggedRun(
            result,
            stdout_log,
            stderr_log,
            # The wrapper's own output is there only when it could not open the logs.
            stdout=stdout or tail(result.stdout_read()),
            stderr=stderr or tail(result.stderr_read()),
            stdout_bytes=stdout_bytes,
            stderr_bytes=stderr_bytes,
        )
        self._note_command(
            args,
            result,
            done.stdout,
            done.stderr,
            stdout_log=stdout_log,
            stderr_log=stderr_log,
            stdout_bytes=stdout_bytes,
            stderr_bytes=stderr_bytes,
        )
        return done

    def _note_command(
        self, args: tuple[str, ...], result: ExecResult, stdout: str, stderr: str, **extra: Any
    ) -> None:
        """Record one command in the trajectory, with the ends of its output."""
        self.note(
            "command",
            command=list(args),
            exit_code=result.returncode,
            timed_out=result.timed_out,
            duration=round(result.duration, 3),
            stdout=stdout,
            stderr=stderr,
            **extra,
        )

    def _log_tail(self, path: str) -> tuple[str, int]:
        """The last :data:`OUTPUT_TAIL` bytes of the sandbox file ``path``, and its size."""
        try:
            done = self.task.sandbox.exec(
                "sh", "-c", _LOG_TAIL, "cooperbench-tail", path, str(OUTPUT_TAIL), timeout=60
            )
        except SandboxError:
            return "", 0
        size, _, end = done.stdout.partition(b"\n")
        if not done.ok or not size.strip().isdigit():
            return "", 0
        text = end.decode("utf-8", errors="replace")
        total = int(size)
        return ("..." + text if total > len(end) else text), total

    @property
    def steps(self) -> int:
        """How many commands ran."""
        return sum(1 for entry in self.trajectory if entry["type"] == "command")

    def patch(self) -> str:
        """Everything changed since the base commit, new files included, as a diff.

        Staging first (``git add -A``) makes untracked files part of the diff; diffing
        the index against the base commit also covers work the agent committed. The
        diff goes to a file that is read back, so no output limit can cut it.
        """
        staged = self.run("git", "add", "-A")
        if not staged.ok:
            raise AgentError(f"git add failed: {staged.stderr_read().strip()}")
        diff = self.run(
            "sh",
            "-c",
            'mkdir -p "${2%/*}" && git diff --cached --binary "$1" > "$2"',
            "git-diff",
            self.task.base_commit,
            PATCH_FILE,
        )
        if not diff.ok:
            raise AgentError(f"git diff failed: {diff.stderr_read().strip()}")
        return self.task.sandbox.read_file(PATCH_FILE).decode("utf-8", errors="replace")
