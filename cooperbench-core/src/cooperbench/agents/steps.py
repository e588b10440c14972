"""Commands an agent runs in its sandbox, recorded as its trajectory, and its final patch."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cooperbench.agents.types import AgentTask
from cooperbench.sandbox import ExecResult

#: Characters of a command's output kept in the trajectory (outputs can be huge).
OUTPUT_TAIL = 4000
#: Seconds any one bookkeeping command (git, coop-msg) may take.
STEP_TIMEOUT = 120.0


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
        self.note(
            "command",
            command=list(args),
            exit_code=result.returncode,
            timed_out=result.timed_out,
            duration=round(result.duration, 3),
            stdout=tail(result.stdout_read()),
            stderr=tail(result.stderr_read()),
        )
        return result

    @property
    def steps(self) -> int:
        """How many commands ran."""
        return sum(1 for entry in self.trajectory if entry["type"] == "command")

    def patch(self) -> str:
        """Everything changed since the base commit, new files included, as a diff.

        Staging first (``git add -A``) makes untracked files part of the diff; diffing
        the index against the base commit also covers work the agent committed.
        """
        staged = self.run("git", "add", "-A")
        if not staged.ok:
            raise RuntimeError(f"git add failed: {staged.stderr_read().strip()}")
        diff = self.run("git", "diff", "--cached", "--binary", self.task.base_commit)
        if not diff.ok:
            raise RuntimeError(f"git diff failed: {diff.stderr_read().strip()}")
        return diff.stdout_read()
